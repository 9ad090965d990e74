"""Gemini's request translation on its own (no HTTP): tool choice, output options, images,
and the requests Gemini cannot take."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.adapters import gemini_wire as wire
from modelyard.errors import UpstreamBadRequest

ASK = [{"role": "user", "content": "Plan my afternoon in Lisbon."}]
SCHEMA = {
    "type": "object",
    "properties": {"plan": {"type": "string"}},
    "required": ["plan"],
    "additionalProperties": False,
}
NAMED = {"type": "function", "function": {"name": "get_weather"}}


@pytest.mark.parametrize(
    ("extra", "section", "expected"),
    [
        ({"tool_choice": "none"}, "toolConfig", {"functionCallingConfig": {"mode": "NONE"}}),
        ({"tool_choice": "required"}, "toolConfig", {"functionCallingConfig": {"mode": "ANY"}}),
        (
            {"tool_choice": NAMED},
            "toolConfig",
            {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
        ),
        (
            {"response_format": {"type": "json_object"}, "max_tokens": 50, "stop": ["\n\n", "END"]},
            "generationConfig",
            {
                "responseMimeType": "application/json",
                "maxOutputTokens": 50,
                "stopSequences": ["\n\n", "END"],
            },
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "p", "schema": SCHEMA},
                }
            },
            "generationConfig",
            {"responseMimeType": "application/json", "responseJsonSchema": SCHEMA},
        ),
        (
            {"max_completion_tokens": 0, "max_tokens": 99, "presence_penalty": 0.5, "n": 2},
            "generationConfig",
            {"maxOutputTokens": 0, "presencePenalty": 0.5, "candidateCount": 2},
        ),
    ],
)
def test_tool_choice_and_output_options_translate_to_gemini_config(
    extra: dict[str, Any], section: str, expected: dict[str, Any]
) -> None:
    request = wire.build_request({"messages": ASK} | extra)
    assert request[section] == expected
    assert request["contents"] == [{"role": "user", "parts": [{"text": ASK[0]["content"]}]}]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "data:image/webp;base64,UklGRg==",
            {"inlineData": {"mimeType": "image/webp", "data": "UklGRg=="}},
        ),
        (
            "https://example.com/a/photo.JPG?x=1",
            {
                "fileData": {
                    "mimeType": "image/jpeg",
                    "fileUri": "https://example.com/a/photo.JPG?x=1",
                }
            },
        ),
        (
            "https://example.com/render",
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/render"}},
        ),
    ],
)
def test_images_become_inline_data_or_file_data(url: str, expected: dict[str, Any]) -> None:
    content = [{"type": "image_url", "image_url": {"url": url}}]
    request = wire.build_request({"messages": [{"role": "user", "content": content}]})
    assert request["contents"][0]["parts"] == [expected]


def test_an_empty_assistant_turn_is_left_out_and_tool_text_is_kept_as_text() -> None:
    messages = [
        *ASK,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "function": {"name": "f"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "not json"}]},
        {"role": "assistant", "content": ""},
    ]
    contents = wire.build_request({"messages": messages})["contents"]
    assert contents[1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "f", "response": {"content": "not json"}}}],
        },
    ]


def user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": list(parts)}]


BAD_ARGS = [
    {
        "role": "assistant",
        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}],
    }
]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"messages": [{"role": "tool", "tool_call_id": "call_x", "content": "1"}]},
            "messages[0].tool_call_id",
        ),
        ({"messages": user({"type": "input_audio"})}, "messages[0].content"),
        (
            {"messages": user({"type": "image_url", "image_url": {"url": "ftp://x/y.png"}})},
            "messages[0].content[0].image_url",
        ),
        (
            {"messages": user({"type": "image_url", "image_url": {"url": "data:image/png,raw"}})},
            "messages[0].content[0].image_url",
        ),
        ({"messages": BAD_ARGS}, "messages[0].tool_calls[0].function.arguments"),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages[0].role"),
        ({"messages": []}, "messages"),
        ({"messages": ASK, "tool_choice": "sometimes"}, "tool_choice"),
        ({"messages": ASK, "tools": [{"type": "code_interpreter"}]}, "tools[0]"),
        ({"messages": ASK, "response_format": {"type": "grammar"}}, "response_format"),
    ],
)
def test_requests_gemini_cannot_take_are_bad_requests(body: dict[str, Any], param: str) -> None:
    with pytest.raises(UpstreamBadRequest) as caught:
        wire.build_request(body)
    assert caught.value.details == {"param": param}
