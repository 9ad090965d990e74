"""The Responses API <-> chat completions translation, without I/O: a request's items as chat
messages, a chat answer as a response object (text, refusal, tool calls, the token limit,
cached and reasoning tokens), and a chat stream as the typed events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from modelyard.adapters import responses_wire as wire
from modelyard.adapters.base import StreamChunk, Usage
from modelyard.adapters.responses_events import events


def test_items_become_chat_messages_with_tool_calls_joined_to_their_assistant_turn() -> None:
    body = {
        "model": "m",
        "instructions": "Be brief.",
        "max_output_tokens": 100,
        "temperature": 0.5,
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_object"}},
        "metadata": {"k": "v"},
        "store": True,
    }
    items: list[Any] = [
        {"role": "developer", "content": "Use metric units."},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": "https://x/y.png", "detail": "low"},
            ],
        },
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_1",
            "content": [{"type": "output_text", "text": "Let me look."}],
        },
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {
            "type": "function_call_output",
            "call_id": "c2",
            "output": [{"type": "input_text", "text": "two"}],
        },
        {"type": "reasoning", "id": "rs_1", "summary": []},
    ]
    chat = wire.chat_body(body, items)
    assert chat["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Use metric units."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": "two"},
    ]
    assert chat["max_tokens"] == 100
    assert chat["temperature"] == 0.5
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    ]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert chat["response_format"] == {"type": "json_object"}
    assert "metadata" not in chat
    assert "store" not in chat


def _chat(message: dict[str, Any], finish: str, usage: dict[str, Any] | None = None) -> Any:
    return {
        "model": "up-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage or {},
    }


def test_a_chat_answer_at_its_token_limit_is_an_incomplete_response_with_its_usage() -> None:
    usage = {"completion_tokens_details": {"reasoning_tokens": 7}}
    chat = _chat({"role": "assistant", "content": "Once upon"}, "length", usage)
    response = wire.response_of("resp_1", {"store": False}, chat, Usage(10, 20, 4), "m")
    assert (response["id"], response["object"], response["model"]) == (
        "resp_1",
        "response",
        "up-model",
    )
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["store"] is False
    [item] = response["output"]
    assert item["content"][0]["text"] == "Once upon"
    assert response["usage"] == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 4},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 7},
        "total_tokens": 30,
    }


def test_a_refusal_and_tool_calls_become_their_own_items() -> None:
    refused = wire.response_of(
        "resp_1",
        {},
        _chat({"role": "assistant", "content": None, "refusal": "No."}, "stop"),
        Usage(1, 1),
        "m",
    )
    assert refused["output"][0]["content"] == [{"type": "refusal", "refusal": "No."}]
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    called = wire.response_of(
        "resp_1",
        {},
        _chat({"role": "assistant", "content": None, "tool_calls": calls}, "tool_calls"),
        Usage(1, 1),
        "m",
    )
    [item] = called["output"]
    assert (item["type"], item["call_id"], item["name"], item["status"]) == (
        "function_call",
        "c1",
        "f",
        "completed",
    )
    assert item["id"].startswith("fc_")


def test_usage_of_a_responses_usage_object() -> None:
    raw = {"input_tokens": 12, "output_tokens": 3, "input_tokens_details": {"cached_tokens": 5}}
    assert wire.usage_of(raw) == Usage(12, 3, 5)
    assert wire.usage_of({"output_tokens": 3}) is None


async def _chunks(*chunks: StreamChunk) -> AsyncIterator[StreamChunk]:
    for chunk in chunks:
        yield chunk


def _delta(delta: dict[str, Any], finish: str | None = None) -> StreamChunk:
    return StreamChunk({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


async def test_a_chat_stream_becomes_the_typed_event_sequence() -> None:
    skeleton = wire.skeleton("resp_1", {}, "m")
    upstream = _chunks(
        _delta({"role": "assistant", "content": "Hel"}),
        _delta({"content": "lo"}),
        _delta(
            {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": ""}}]}
        ),
        _delta({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}, "tool_calls"),
        StreamChunk({"choices": [], "usage": {}}, Usage(9, 4)),
    )
    out = [chunk async for chunk in events(upstream, skeleton, prompt=1)]
    kinds = [chunk.chunk["type"] for chunk in out]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = out[-1]
    assert final.usage == Usage(9, 4)
    assert final.chunk["response"]["id"] == "resp_1"
    assert [item["type"] for item in final.chunk["response"]["output"]] == [
        "message",
        "function_call",
    ]
    assert final.chunk["response"]["output"][0]["content"][0]["text"] == "Hello"
    assert final.chunk["response"]["usage"]["total_tokens"] == 13


async def test_a_stream_without_usage_is_estimated_and_an_empty_one_yields_nothing() -> None:
    skeleton = wire.skeleton("resp_1", {}, "m")
    out = [c async for c in events(_chunks(_delta({"content": "hi"}, "length")), skeleton, 7)]
    final = out[-1]
    assert final.chunk["type"] == "response.incomplete"
    assert final.usage is not None
    assert final.usage.estimated
    assert final.usage.prompt_tokens == 7
    assert [c async for c in events(_chunks(), skeleton, 7)] == []
