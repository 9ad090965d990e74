"""OpenAI <-> Anthropic Messages translation without I/O: options, JSON mode, what Anthropic
cannot serve, and stop reasons."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.adapters import anthropic_wire as wire
from modelyard.errors import UpstreamBadRequest
from tests.gateway.upstream import fixture

MODEL = "claude-sonnet-4-5-20250929"
ASK = [{"role": "user", "content": "Plan my afternoon in Lisbon."}]
TOOL = {"type": "function", "function": {"name": "get_weather"}}


def with_message(message: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [message]}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {"max_tokens": wire.DEFAULT_MAX_TOKENS, "stream": None, "tool_choice": None}),
        ({"max_tokens": 300}, {"max_tokens": 300}),
        ({"max_tokens": 300, "max_completion_tokens": 200}, {"max_tokens": 200}),
        ({"stop": "END"}, {"stop_sequences": ["END"]}),
        ({"stop": None, "seed": 7}, {"stop_sequences": None, "seed": None}),
        ({"tool_choice": "auto"}, {"tool_choice": {"type": "auto"}}),
        ({"tool_choice": "none"}, {"tool_choice": {"type": "none"}}),
        ({"tool_choice": "required"}, {"tool_choice": {"type": "any"}}),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            {"tool_choice": {"type": "tool", "name": "get_weather"}},
        ),
        ({"parallel_tool_calls": False}, {"tool_choice": {"disable_parallel_tool_use": True}}),
        ({"response_format": {"type": "json_object"}}, {"system": wire.JSON_INSTRUCTION}),
        ({"response_format": {"type": "text"}}, {"system": None}),
        ({"user": "user-42"}, {"metadata": {"user_id": "user-42"}}),
        ({"stream": True}, {"stream": True}),
    ],
)
def test_openai_options_become_their_anthropic_counterparts(
    body: dict[str, Any], expected: dict[str, Any]
) -> None:
    request = wire.build_request({"messages": ASK, "tools": [TOOL], **body}, MODEL)
    assert {name: request.get(name) for name in expected} == expected


def test_a_tool_without_parameters_gets_an_empty_object_schema() -> None:
    [tool] = wire.build_request({"messages": ASK, "tools": [TOOL]}, MODEL)["tools"]
    assert tool == {"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}


def test_json_mode_is_asked_for_in_the_system_prompt_after_the_callers_own() -> None:
    system = {"role": "system", "content": "Be terse."}
    schema = {"type": "object", "properties": {"plan": {"type": "string"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "plan", "schema": schema}}
    body = {"messages": [system, *ASK], "response_format": response_format}
    prompt = wire.build_request(body, MODEL)["system"]
    assert prompt.startswith(f"Be terse.\n\n{wire.JSON_INSTRUCTION}")
    assert '{"type":"object","properties":{"plan":{"type":"string"}}}' in prompt


def test_empty_assistant_turns_are_dropped_and_same_role_turns_merge() -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "Lisbon?"}]},
    ]
    request = wire.build_request({"messages": messages}, MODEL)
    texts = [{"type": "text", "text": "Hi"}, {"type": "text", "text": "Lisbon?"}]
    assert request["messages"] == [{"role": "user", "content": texts}]


AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}}
FTP_IMAGE = {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}
LIST_ARGUMENTS = {"id": "toolu_1", "function": {"name": "f", "arguments": "[1]"}}
NO_ID = {"function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": ASK, "n": 2}, "n"),
        ({"messages": []}, "messages"),
        (with_message({"role": "critic", "content": "hm"}), "messages[0].role"),
        (with_message({"role": "user", "content": [AUDIO]}), "messages[0].content[0]"),
        (with_message({"role": "user", "content": [FTP_IMAGE]}), "messages[0].content[0]"),
        (with_message({"role": "system", "content": [FTP_IMAGE]}), "messages[0].content[0]"),
        (with_message({"role": "assistant", "tool_calls": [LIST_ARGUMENTS]}), "tool_calls"),
        (with_message({"role": "assistant", "tool_calls": [NO_ID]}), "tool_calls"),
        (with_message({"role": "tool", "content": "14:05"}), "messages[0].tool_call_id"),
        ({"messages": ASK, "tools": [{"type": "web_search"}]}, "tools[0]"),
        ({"messages": ASK, "tools": [TOOL], "tool_choice": "sometimes"}, "tool_choice"),
    ],
)
def test_requests_anthropic_cannot_serve_are_bad_requests_naming_the_field(
    body: dict[str, Any], param: str
) -> None:
    with pytest.raises(UpstreamBadRequest) as rejected:
        wire.build_request(body, MODEL)
    assert param in rejected.value.details["param"]
    assert rejected.value.try_next_provider is False


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_stop_reasons_map_to_openai_finish_reasons(stop_reason: str | None, finish: str) -> None:
    document = fixture("anthropic/message_text.json") | {"stop_reason": stop_reason}
    completion, _ = wire.reply(document, {"messages": ASK}, MODEL, 0)
    assert completion["choices"][0]["finish_reason"] == finish


def test_a_reply_with_only_tool_use_has_no_content() -> None:
    document = fixture("anthropic/message_tool_use.json")
    document["content"] = document["content"][1:]
    completion, _ = wire.reply(document, {"messages": ASK}, MODEL, 0)
    message = completion["choices"][0]["message"]
    assert message["content"] is None
    assert [c["function"]["name"] for c in message["tool_calls"]] == [
        "get_weather",
        "get_local_time",
    ]
