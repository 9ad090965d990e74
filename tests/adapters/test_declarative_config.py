"""Declarative provider configs: examples, error locations and messages, JSON paths."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from modelyard.adapters.declarative_config import (
    DeclarativeConfig,
    validate_declarative,
)
from modelyard.jsonpath import extract, parse_path
from modelyard.kinds.declarative_examples import EXAMPLE_GEMINI, EXAMPLE_OPENAI_CHAT

PAYLOAD = ("request_builder", "payload_structure")
RULES = ("response_extractor", "extraction_rules")


def _errors(raw: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as info:
        validate_declarative(raw)
    return [(tuple(error["loc"]), error["msg"]) for error in info.value.errors()]


def _without(*path: str, base: dict[str, Any] = EXAMPLE_OPENAI_CHAT) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    node = raw
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return raw


def _with(
    path: tuple[str, ...], value: Any, base: dict[str, Any] = EXAMPLE_OPENAI_CHAT
) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return raw


def _one_error(raw: dict[str, Any], loc: tuple[str | int, ...], fragment: str) -> None:
    errors = _errors(raw)
    assert len(errors) == 1, errors
    assert errors[0][0] == loc
    assert fragment in errors[0][1]


@pytest.mark.parametrize("example", [EXAMPLE_OPENAI_CHAT, EXAMPLE_GEMINI], ids=["openai", "gemini"])
def test_examples_validate_and_round_trip(example: dict[str, Any]) -> None:
    config = validate_declarative(copy.deepcopy(example))
    assert validate_declarative(config.model_dump()) == config
    with pytest.raises(ValidationError):
        config.http_method = "PUT"  # type: ignore[misc]


def test_example_details() -> None:
    openai = validate_declarative(EXAMPLE_OPENAI_CHAT)
    gemini = validate_declarative(EXAMPLE_GEMINI)
    assert openai.auth_header("sk-1") == ("Authorization", "Bearer sk-1")
    assert openai.request_builder.payload_structure["model"].param == "model_name"
    assert openai.response_extractor.streaming is not None
    assert gemini.auth_scheme == "query"
    assert gemini.auth_header_template == "key"
    assert gemini.auth_header("k") is None
    assert gemini.request_builder.payload_structure["contents"].transform == "gemini_contents"


@pytest.mark.parametrize(
    ("path", "loc", "fragment"),
    [
        (("request_builder", "version"), ("request_builder", "version"), "Field required"),
        (("response_extractor", "version"), ("response_extractor", "version"), "Field required"),
        (PAYLOAD, PAYLOAD, "Field required"),
        ((*PAYLOAD, "model"), PAYLOAD, "payload_structure must contain 'model'"),
        ((*PAYLOAD, "messages"), PAYLOAD, "payload_structure must contain 'messages'"),
        ((*RULES, "text_content"), (*RULES, "text_content"), "Field required"),
        ((*RULES, "usage_stats"), (*RULES, "usage_stats"), "Field required"),
        (
            (*RULES, "usage_stats", "fields", "prompt_tokens"),
            (*RULES, "usage_stats", "fields"),
            "usage_stats.fields must contain 'prompt_tokens'",
        ),
        (
            (*RULES, "usage_stats", "fields", "completion_tokens"),
            (*RULES, "usage_stats", "fields"),
            "usage_stats.fields must contain 'completion_tokens'",
        ),
        (("endpoint_path_template",), ("endpoint_path_template",), "Field required"),
    ],
)
def test_missing_required_parts(path: tuple[str, ...], loc: tuple[str, ...], fragment: str) -> None:
    _one_error(_without(*path), loc, fragment)


def test_gemini_messages_and_model_rules() -> None:
    no_contents = _without(*PAYLOAD, "contents", base=EXAMPLE_GEMINI)
    _one_error(no_contents, PAYLOAD, "payload_structure must contain 'messages'")
    fixed_path = _with(
        ("endpoint_path_template",), "/v1beta/models/gemini:generateContent", base=EXAMPLE_GEMINI
    )
    _one_error(fixed_path, PAYLOAD, "payload_structure must contain 'model'")


@pytest.mark.parametrize(
    ("changes", "loc", "fragment"),
    [
        ({"auth_scheme": "header"}, ("auth_header_template",), "needs 'Name: value"),
        (
            {"auth_scheme": "header", "auth_header_template": "x api-key: {api_key}"},
            ("auth_header_template",),
            "not a valid HTTP header name",
        ),
        (
            {"auth_scheme": "header", "auth_header_template": "x-api-key: secret"},
            ("auth_header_template",),
            "{api_key}",
        ),
        (
            {"auth_scheme": "header", "auth_header_template": "x-api-key: {api_key}{org}"},
            ("auth_header_template",),
            "only placeholder allowed",
        ),
        (
            {"auth_scheme": "header", "auth_header_template": "x-api-key: {api_key}\r\nx: y"},
            ("auth_header_template",),
            "line break",
        ),
        ({"auth_scheme": "query"}, ("auth_header_template",), "query parameter name"),
        (
            {"auth_scheme": "query", "auth_header_template": "api key"},
            ("auth_header_template",),
            "query parameter name",
        ),
        ({"auth_header_template": "key"}, ("auth_header_template",), "must be absent"),
        (
            {"auth_scheme": "none", "auth_header_template": "x: {api_key}"},
            ("auth_header_template",),
            "must be absent",
        ),
        ({"auth_scheme": "basic"}, ("auth_scheme",), "Input should be"),
        (
            {"endpoint_path_template": "/v1/{deployment}/chat"},
            ("endpoint_path_template",),
            "unknown placeholder {deployment}",
        ),
        ({"endpoint_path_template": "v1/chat"}, ("endpoint_path_template",), "start with '/'"),
        ({"endpoint_path_template": "/v1/{model"}, ("endpoint_path_template",), "unbalanced"),
        ({"http_method": "GET"}, ("http_method",), "Input should be"),
        ({"additional_headers": {"bad header": "1"}}, ("additional_headers",), "header name"),
        ({"additional_headers": {"X-Org": "a\nb"}}, ("additional_headers",), "line break"),
        ({"base_url": "https://x"}, ("base_url",), "Extra inputs are not permitted"),
    ],
)
def test_invalid_top_level_values(
    changes: dict[str, Any], loc: tuple[str, ...], fragment: str
) -> None:
    _one_error(copy.deepcopy(EXAMPLE_OPENAI_CHAT) | changes, loc, fragment)


@pytest.mark.parametrize("name", ["Authorization", "x-api-key", "X-API-KEY", "api-key"])
def test_credential_headers_are_rejected(name: str) -> None:
    raw = copy.deepcopy(EXAMPLE_OPENAI_CHAT) | {"additional_headers": {name: "secret"}}
    _one_error(raw, ("additional_headers",), f"must not set {name!r}: credentials go in")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("x-api-key: {api_key}", ("x-api-key", "k1")),
        ("Authorization: Token {api_key}", ("Authorization", "Token k1")),
    ],
)
def test_header_auth_is_accepted(template: str, expected: tuple[str, str]) -> None:
    raw = copy.deepcopy(EXAMPLE_OPENAI_CHAT) | {
        "auth_scheme": "header",
        "auth_header_template": template,
        "additional_headers": {"anthropic-version": "2023-06-01"},
    }
    assert validate_declarative(raw).auth_header("k1") == expected


@pytest.mark.parametrize(
    ("key", "spec", "loc_tail", "fragment"),
    [
        ("x", {"source": "literal"}, ("x", "value"), "value is required"),
        ("x", {"source": "param:seed", "value": 1}, ("x", "value"), "only allowed with source"),
        ("x", {"source": "param:nope"}, ("x", "source"), "must be 'literal' or one of"),
        ("x", {"source": "seed"}, ("x", "source"), "must be 'literal' or one of"),
        (
            "x",
            {"source": "param:seed", "transform": "gemini_contents"},
            ("x", "transform"),
            "only allowed with source 'param:messages'",
        ),
        ("x", {"source": "param:seed", "colour": 1}, ("x", "colour"), "Extra inputs"),
        ("a..b", {"source": "param:seed"}, (), "empty path segment"),
        ("stream.x", {"source": "param:seed"}, (), "overlap"),
    ],
)
def test_invalid_payload_fields(
    key: str, spec: dict[str, Any], loc_tail: tuple[str, ...], fragment: str
) -> None:
    _one_error(_with((*PAYLOAD, key), spec), (*PAYLOAD, *loc_tail), fragment)


def test_literal_field_is_accepted() -> None:
    raw = _with((*PAYLOAD, "generationConfig.candidateCount"), {"source": "literal", "value": 1})
    spec = validate_declarative(raw).request_builder.payload_structure
    assert spec["generationConfig.candidateCount"].value == 1
    assert spec["generationConfig.candidateCount"].param is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("choices[0].message.content", ("choices", 0, "message", "content")),
        ("output.0.content.0.text", ("output", 0, "content", 0, "text")),
        ("usage.prompt_tokens", ("usage", "prompt_tokens")),
        ("a[1][2].b", ("a", 1, 2, "b")),
        ("[0].text", (0, "text")),
        ("usageMetadata", ("usageMetadata",)),
    ],
)
def test_parse_path(path: str, expected: tuple[str | int, ...]) -> None:
    assert parse_path(path) == expected


BAD_PATHS = ["", "a..b", ".a", "a.", "a[0", "a[x]", "a]0[", "a b", "a.[0]", "$.choices[0]", "a[-1]"]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_bad_path_syntax(path: str) -> None:
    with pytest.raises(ValueError, match="invalid JSON path"):
        parse_path(path)
    _one_error(
        _with((*RULES, "text_content", "paths"), ["ok", path]),
        (*RULES, "text_content", "paths", 1),
        "invalid JSON path",
    )


@pytest.mark.parametrize(
    ("where", "value", "loc_tail", "fragment"),
    [
        (("extraction_rules", "finish_reason"), "a..b", (), "invalid JSON path"),
        (
            ("extraction_rules", "usage_stats", "fields", "total_tokens"),
            "x[",
            (),
            "invalid JSON path",
        ),
        (
            ("extraction_rules", "usage_stats", "fields", "reasoning_tokens"),
            "x",
            ("[key]",),
            "Input should be",
        ),
        (("extraction_rules", "text_content", "paths"), [], (), "at least 1 item"),
        (("streaming", "delta_paths"), [], (), "at least 1 item"),
        (("streaming", "format"), "ndjson", (), "Input should be 'sse'"),
    ],
)
def test_invalid_extractor_values(
    where: tuple[str, ...], value: Any, loc_tail: tuple[str, ...], fragment: str
) -> None:
    loc = ("response_extractor", *where, *loc_tail)
    _one_error(_with(("response_extractor", *where), value), loc, fragment)


DOCUMENT: dict[str, Any] = {
    "choices": [{"message": {"content": "hi", "refusal": None}, "index": 0}],
    "output": [{"content": [{"text": "deep"}]}],
    "usage": {"prompt_tokens": 0, "flags": [False], "by_index": {"0": "zero"}},
    "text": "abc",
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("choices[0].message.content", "hi"),
        ("choices.0.message.content", "hi"),
        ("output.0.content.0.text", "deep"),
        ("output[0].content", [{"text": "deep"}]),
        ("usage.prompt_tokens", 0),
        ("usage.flags[0]", False),
        ("usage.by_index.0", "zero"),
        ("choices[1].message.content", None),
        ("choices[0].delta.content", None),
        ("choices[0].message.refusal", None),
        ("choices.first", None),
        ("usage.prompt_tokens.value", None),
        ("text[0]", None),
        ("missing.deeper[3]", None),
        ("a..b", None),
        ("", None),
    ],
)
def test_extract(path: str, expected: Any) -> None:
    assert extract(DOCUMENT, path) == expected


@pytest.mark.parametrize("document", [None, 3, "text", [], {}, b"x"])
def test_extract_never_raises_on_odd_documents(document: Any) -> None:
    assert extract(document, "a[0].b") is None


def test_extract_accepts_parsed_paths_and_applies_example_rules() -> None:
    assert extract(DOCUMENT, ("output", 0, "content", 0, "text")) == "deep"
    reply = {
        "candidates": [{"content": {"parts": [{"text": "Bonjour"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2},
    }
    rules = DeclarativeConfig.model_validate(EXAMPLE_GEMINI).response_extractor.extraction_rules
    assert [extract(reply, p) for p in rules.text_content.paths] == ["Bonjour"]
    usage = {name: extract(reply, path) for name, path in rules.usage_stats.fields.items()}
    assert usage == {
        "prompt_tokens": 4,
        "completion_tokens": 2,
        "total_tokens": None,
        "cached_tokens": None,
    }
    assert rules.finish_reason is not None
    assert extract(reply, rules.finish_reason) == "STOP"
