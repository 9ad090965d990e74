"""How a declarative config turns the caller's OpenAI request into the upstream body."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.adapters.declarative_build import ConfigCache, build_body
from modelyard.errors import Misconfigured
from tests.adapters.declarative_support import ACME, MESSAGES, make_target

CONVERSATION = [
    *MESSAGES,
    {"role": "developer", "content": [{"type": "text", "text": "No emoji."}]},
]


def config_with(payload: dict[str, Any]) -> dict[str, Any]:
    return ACME | {"request_builder": {"version": "1.0", "payload_structure": payload}}


def body_for(payload: dict[str, Any], request: dict[str, Any], **kw: Any) -> dict[str, Any]:
    target = make_target("http://upstream", config_with(payload))
    return build_body(ConfigCache().get(target), target, request, streaming=kw.get("stream", False))


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        ("openai_messages", CONVERSATION),
        (
            "text_only_messages",
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Say hello"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "In French"},
                {"role": "developer", "content": "No emoji."},
            ],
        ),
        (
            "gemini_contents",
            [
                {"role": "user", "parts": [{"text": "Say hello"}]},
                {"role": "model", "parts": [{"text": "Hello"}]},
                {"role": "user", "parts": [{"text": "In French"}]},
            ],
        ),
        (
            "anthropic_messages",
            [
                {"role": "user", "content": "Say hello"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "In French"},
            ],
        ),
    ],
)
def test_messages_transforms(transform: str, expected: list[dict[str, Any]]) -> None:
    payload = {
        "msgs": {"source": "param:messages", "transform": transform},
        "sys": {"source": "param:system"},
    }
    body = body_for(payload, {"messages": CONVERSATION})
    assert body == {"msgs": expected, "sys": "Be brief.\n\nNo emoji."}


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({"max_tokens": 5, "max_completion_tokens": 9}, {"out": {"limit": 5}}),
        ({"max_completion_tokens": 9}, {"out": {"limit": 9}}),
        ({}, {}),
    ],
)
def test_max_tokens_falls_back_to_max_completion_tokens_and_is_omitted_when_absent(
    request_: dict[str, Any], expected: dict[str, Any]
) -> None:
    payload = {"m": {"source": "param:messages"}, "out.limit": {"source": "param:max_tokens"}}
    assert body_for(payload, request_) == expected


@pytest.mark.parametrize(("streaming", "expected"), [(True, True), (False, "default")])
def test_the_stream_param_is_true_only_on_a_streaming_call(
    streaming: bool, expected: object
) -> None:
    payload = {
        "m": {"source": "param:messages"},
        "s": {"source": "param:stream", "default": "default"},
    }
    assert body_for(payload, {"stream": True}, stream=streaming) == {"s": expected}


def test_a_required_param_with_a_default_uses_the_default() -> None:
    payload = {
        "m": {"source": "param:messages"},
        "t": {"source": "param:temperature", "required": True, "default": 1},
    }
    assert body_for(payload, {}) == {"t": 1}


def test_an_invalid_config_is_a_misconfiguration_naming_provider_and_place() -> None:
    target = make_target("http://upstream", ACME | {"endpoint_path_template": "no-slash"})
    with pytest.raises(Misconfigured, match=r"'acme'.*endpoint_path_template"):
        ConfigCache().get(target)
