"""Ollama's request and reply translation on its own (no HTTP): options, formats, finish
reasons, counts, and the requests Ollama cannot take."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.adapters import ollama_wire as wire
from modelyard.adapters.base import Usage
from modelyard.errors import UpstreamBadRequest

ASK = [{"role": "user", "content": "Plan my afternoon in Lisbon."}]
SCHEMA = {"type": "object", "properties": {"plan": {"type": "string"}}}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, {}),
        ({"max_completion_tokens": 9, "max_tokens": 99}, {"options": {"num_predict": 9}}),
        ({"stop": "END", "seed": 3}, {"options": {"seed": 3, "stop": ["END"]}}),
        ({"response_format": {"type": "json_object"}}, {"format": "json"}),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "p", "schema": SCHEMA},
                }
            },
            {"format": SCHEMA},
        ),
        ({"response_format": {"type": "text"}, "temperature": 0}, {"options": {"temperature": 0}}),
    ],
)
def test_options_and_formats_translate(extra: dict[str, Any], expected: dict[str, Any]) -> None:
    request = wire.build_request("llama3.2", {"messages": ASK} | extra, stream=True)
    assert request == {"model": "llama3.2", "messages": ASK, "stream": True} | expected


@pytest.mark.parametrize(
    ("done_reason", "tool_calls", "expected"),
    [
        ("stop", False, "stop"),
        ("length", False, "length"),
        ("stop", True, "tool_calls"),
        ("unload", False, "stop"),
        (None, False, "stop"),
    ],
)
def test_done_reason_maps_to_finish_reason(
    done_reason: str | None, tool_calls: bool, expected: str
) -> None:
    assert wire.finish_reason(done_reason, tool_calls) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"prompt_eval_count": 5, "eval_count": 2}, Usage(5, 2)),
        # a fully cached prompt: Ollama leaves prompt_eval_count out
        ({"eval_count": 2}, Usage(40, 2, estimated=True)),
        ({}, Usage(40, 7, estimated=True)),
    ],
)
def test_missing_counts_fall_back_to_the_estimate(reply: dict[str, Any], expected: Usage) -> None:
    assert wire.usage(reply, Usage(40, 7, estimated=True)) == expected


IMAGE_URL = {"type": "image_url", "image_url": {"url": "https://example.com/y.png"}}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"messages": [{"role": "user", "content": [IMAGE_URL]}]},
            "messages[0].content[0].image_url",
        ),
        (
            {"messages": [{"role": "tool", "tool_call_id": "c", "content": "1"}]},
            "messages[0].tool_call_id",
        ),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages[0].role"),
        ({"messages": []}, "messages"),
        ({"messages": ASK, "n": 2}, "n"),
        ({"messages": ASK, "response_format": {"type": "grammar"}}, "response_format"),
    ],
)
def test_requests_ollama_cannot_take_are_bad_requests(body: dict[str, Any], param: str) -> None:
    with pytest.raises(UpstreamBadRequest) as caught:
        wire.build_request("llama3.2", body, stream=False)
    assert caught.value.details == {"param": param}
