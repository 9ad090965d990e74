"""The Messages API <-> chat translation of /v1/messages (api/anthropic/to_chat.py and
from_chat.py) on the cases the end-to-end tests do not reach: tool results with images,
thinking blocks, Anthropic's own tools, interleaved stream content, usage splits."""

from __future__ import annotations

from typing import Any

from modelyard.adapters.base import StreamChunk, Usage
from modelyard.api.anthropic import from_chat
from modelyard.api.anthropic.checks import check_message
from modelyard.api.anthropic.to_chat import to_chat

IMAGE: Any = {"type": "image", "source": {"type": "url", "url": "https://e.com/a.png"}}


def _body(messages: Any, **more: Any) -> dict[str, Any]:
    body = {"model": "m", "max_tokens": 10, "messages": messages, **more}
    check_message(body)
    return body


def test_tool_results_come_first_and_their_images_join_the_user_turn() -> None:
    turns = [
        {"role": "user", "content": "look"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "t1", "name": "shot", "input": {"x": 1}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and?"},
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "text", "text": "a cat"}, IMAGE],
                },
            ],
        },
    ]
    translated = to_chat(_body(turns))
    assert translated.native_only is None
    assert translated.body["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "shot", "arguments": '{"x":1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "a cat"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and?"},
                {"type": "image_url", "image_url": {"url": "https://e.com/a.png"}},
            ],
        },
    ]


def test_anthropic_own_tools_and_documents_are_named_as_anthropic_only() -> None:
    tools = [
        {"type": "web_search_20250305", "name": "web_search"},
        {"name": "calc", "input_schema": {"type": "object"}},
    ]
    translated = to_chat(_body([{"role": "user", "content": "hi"}], tools=tools, top_k=5))
    assert translated.native_only == "tools.0 (Anthropic's web_search_20250305)"
    assert [t["function"]["name"] for t in translated.body["tools"]] == ["calc"]
    assert "top_k" not in translated.body
    document = {"type": "document", "source": {"type": "text", "data": "x"}}
    translated = to_chat(_body([{"role": "user", "content": [document]}]))
    assert translated.native_only == "messages.0.content.0 (a document block)"


def test_a_reply_with_tool_calls_becomes_tool_use_blocks() -> None:
    completion = {
        "model": "gpt",
        "choices": [
            {
                "message": {
                    "content": "Sure.",
                    "tool_calls": [
                        {"id": "c1", "function": {"name": "f", "arguments": '{"a": 2}'}},
                        {"id": "c2", "function": {"name": "g", "arguments": "not json"}},
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
    }
    usage = Usage(100, 7, cached_tokens=60, cache_write_tokens=30)
    message = from_chat.message(completion, usage, "m", "msg_1")
    assert message["content"] == [
        {"type": "text", "text": "Sure."},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 2}},
        {"type": "tool_use", "id": "c2", "name": "g", "input": {}},
    ]
    assert (message["stop_reason"], message["model"]) == ("tool_use", "gpt")
    assert message["usage"] == {
        "input_tokens": 10,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 60,
        "output_tokens": 7,
    }


def test_stop_reasons_follow_the_finish_reasons() -> None:
    assert [from_chat.stop_reason(f) for f in ("stop", "length", "content_filter", None)] == [
        "end_turn",
        "max_tokens",
        "refusal",
        "end_turn",
    ]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> StreamChunk:
    return StreamChunk({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def test_chat_chunks_become_blocks_that_open_and_close_in_order() -> None:
    events = from_chat.Events("m", "msg_1", prompt=20)
    start = events.start()
    call = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"a"'}}
    out = [
        *events.chunk(_chunk({"role": "assistant", "content": "Hi"})),
        *events.chunk(_chunk({"tool_calls": [call]})),
        *events.chunk(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]})),
        *events.chunk(_chunk({}, "tool_calls")),
        *events.end(),
    ]
    assert start.chunk["message"]["usage"]["input_tokens"] == 20
    assert [(e.chunk["type"], e.chunk.get("index")) for e in out] == [
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert out[3].chunk["content_block"] == {
        "type": "tool_use",
        "id": "c1",
        "name": "f",
        "input": {},
    }
    assert out[-2].chunk["delta"]["stop_reason"] == "tool_use"
    # no usage from the provider: the output is estimated from what was produced
    assert out[-2].usage == Usage(20, 3, estimated=True)  # "Hi" + '{"a"' + ": 1}": 10 chars
    assert out[1].usage == Usage(20, 1, estimated=True)
