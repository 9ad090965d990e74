"""Anthropic's Messages API end to end: the official ``anthropic`` SDK -> a real modelyard
server -> a model served by an Anthropic upstream (the request passed through as it came,
the model id replaced) or by an OpenAI-compatible one (translated both ways), each a local
fake (tests/gateway/messages_rig.py). Each test checks what the upstream received, what the
SDK parsed, and the usage row the call left: tokens (cache reads and writes included), the
exact cost and the credits taken from the caller's grant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from unittest.mock import ANY

import anthropic
import httpx
import orjson
import pytest

from modelyard import tokens
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.messages_rig import KEY, MODEL, Rig, cost, messages_rig
from tests.gateway.upstream import fixture, json_reply, sse_reply

ASK: Any = [{"role": "user", "content": "Plan my afternoon in Lisbon."}]
ANSWER = "Take the 28 tram up to Miradouro da Graça for the view at sunset."
COMPAT_ANSWER = fixture("openai/chat_completion.json")["choices"][0]["message"]["content"]
WEATHER: Any = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PIXEL = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
# message_text.json: 45 input, 2048 read from the cache, 120 written to it, 27 out
NATIVE_TEXT = ((45, 2048, 120, 27), cost(45, 2048, 120, 27))
# chat_completion.json: 1117 prompt of which 1024 cached, 46 out
COMPAT_TEXT = ((93, 1024, 0, 46), cost(93, 1024, 0, 46))


@pytest.fixture(params=["anthropic", "openai"])
async def rig(
    request: pytest.FixtureRequest,
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Any,
) -> AsyncIterator[Rig]:
    async with messages_rig(request.param, settings, registry, admin, tmp_path) as made:
        yield made


def text_reply(rig: Rig) -> None:
    if rig.kind == "anthropic":
        rig.reply(json_reply(fixture("anthropic/message_text.json")))
    else:
        rig.reply(json_reply(fixture("openai/chat_completion.json")))


def check_row(row: Any, counts: tuple[int, int, int, int], expected: Decimal) -> None:
    uncached, read, written, output = counts
    assert (row.model_name, row.status, row.metadata) == (MODEL, "ok", {"api": "messages"})
    assert row.prompt_tokens == uncached + read + written
    assert (row.cached_tokens, row.cache_write_tokens) == (read, written)
    assert (row.completion_tokens, row.estimated) == (output, False)
    assert row.cache_write_per_mtok == Decimal("3.75")
    assert row.cost == expected
    assert row.credits == row.charged_credits == expected * 100  # billing.credits_per_usd


async def test_a_message_is_answered_and_charged_with_its_cache_reads_and_writes(
    rig: Rig,
) -> None:
    text_reply(rig)
    async with rig.client() as client:
        message = await client.messages.create(
            model=MODEL,
            max_tokens=300,
            system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            messages=ASK,
            extra_body={"temperature": 0.5},
            stop_sequences=["\n\nHuman:"],
            metadata={"user_id": "u-42"},
        )
    [sent] = rig.sent()
    counts, expected = NATIVE_TEXT if rig.kind == "anthropic" else COMPAT_TEXT
    assert message.type == "message"
    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"] * len(message.content)
    text = "".join(block.text for block in message.content if block.type == "text")
    assert text == (ANSWER if rig.kind == "anthropic" else COMPAT_ANSWER)
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens) == counts[:2]
    assert (usage.cache_creation_input_tokens, usage.output_tokens) == counts[2:]
    if rig.kind == "anthropic":  # passed through: the caller's body, the upstream's model id
        assert sent.headers["x-api-key"] == KEY
        assert sent.headers["anthropic-version"] == "2023-06-01"
        assert sent.body["system"][0]["cache_control"] == {"type": "ephemeral"}
        assert (sent.body["metadata"], sent.body["stop_sequences"]) == (
            {"user_id": "u-42"},
            ["\n\nHuman:"],
        )
    else:  # translated into a chat request
        assert sent.headers["Authorization"] == f"Bearer {KEY}"
        assert sent.body["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Plan my afternoon in Lisbon."},
        ]
        assert (sent.body["stop"], sent.body["user"]) == (["\n\nHuman:"], "u-42")
    assert (sent.body["model"], sent.body["max_tokens"], sent.body["temperature"]) == (
        MODEL,
        300,
        0.5,
    )
    [row] = await rig.usage()
    check_row(row, counts, expected)
    assert row.operation == "chat"
    assert await rig.spent() == expected * 100


async def test_a_streamed_message_arrives_as_anthropic_events_and_is_charged(rig: Rig) -> None:
    if rig.kind == "anthropic":
        rig.reply(sse_reply(fixture("anthropic/stream_text.sse")))
    else:
        rig.reply(sse_reply(fixture("openai/chat_stream.sse")))
    async with (
        rig.client() as client,
        client.messages.stream(model=MODEL, max_tokens=300, messages=ASK) as stream,
    ):
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == final.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    [row] = await rig.usage()
    if rig.kind == "anthropic":
        assert "".join(pieces) == ANSWER
        counts, expected = NATIVE_TEXT
    else:
        counts = (1117 - 1024, 1024, 0, 9)  # chat_stream.sse's usage chunk
        expected = cost(*counts)
    usage = final.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens) == counts[:2]
    assert (usage.cache_creation_input_tokens, usage.output_tokens) == counts[2:]
    check_row(row, counts, expected)
    assert row.ttft_ms is not None
    assert await rig.spent() == expected * 100


async def test_tools_round_trip_from_tool_use_to_tool_result(rig: Rig) -> None:
    if rig.kind == "anthropic":
        rig.reply(
            json_reply(fixture("anthropic/message_tool_use.json")),
            json_reply(fixture("anthropic/message_text.json")),
        )
    else:
        rig.reply(
            json_reply(fixture("openai/chat_tool_calls.json")),
            json_reply(fixture("openai/chat_completion.json")),
        )
    choice: Any = {"type": "auto", "disable_parallel_tool_use": True}
    async with rig.client() as client:
        first = await client.messages.create(
            model=MODEL, max_tokens=300, messages=ASK, tools=[WEATHER], tool_choice=choice
        )
        uses = [block for block in first.content if block.type == "tool_use"]
        assert first.stop_reason == "tool_use"
        assert uses
        results: Any = [
            {"type": "tool_result", "tool_use_id": use.id, "content": "18 C, clear"} for use in uses
        ]
        turns: Any = [
            *ASK,
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {"role": "user", "content": results},
        ]
        second = await client.messages.create(
            model=MODEL, max_tokens=300, messages=turns, tools=[WEATHER]
        )
    assert second.stop_reason == "end_turn"
    asked, answered = rig.sent()
    if rig.kind == "anthropic":
        assert asked.body["tools"] == [WEATHER]
        assert asked.body["tool_choice"] == choice
        assert answered.body["messages"] == orjson.loads(orjson.dumps(turns))
        assert [u.name for u in uses] == ["get_weather", "get_local_time"]
    else:
        assert asked.body["tools"] == [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": WEATHER["input_schema"],
                    "description": WEATHER["description"],
                },
            }
        ]
        assert (asked.body["tool_choice"], asked.body["parallel_tool_calls"]) == ("auto", False)
        [use] = uses
        assert (use.id, use.name, use.input) == (
            "call_abc123",
            "get_current_weather",
            {"location": "Boston, MA"},
        )
        assistant, tool = answered.body["messages"][1:]
        assert assistant["tool_calls"][0]["id"] == "call_abc123"
        assert orjson.loads(assistant["tool_calls"][0]["function"]["arguments"]) == use.input
        assert tool == {"role": "tool", "tool_call_id": "call_abc123", "content": "18 C, clear"}
    rows = await rig.usage()
    assert [r.operation for r in rows] == ["function_call", "function_call"]
    assert [r.metadata for r in rows] == [{"api": "messages"}] * 2


async def test_an_image_block_reaches_the_upstream_in_its_format(rig: Rig) -> None:
    text_reply(rig)
    image: Any = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PIXEL},
    }
    linked: Any = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    content: Any = [image, linked, {"type": "text", "text": "What is in these?"}]
    async with rig.client() as client:
        await client.messages.create(
            model=MODEL, max_tokens=100, messages=[{"role": "user", "content": content}]
        )
    [sent] = rig.sent()
    if rig.kind == "anthropic":
        assert sent.body["messages"][0]["content"] == content
    else:
        assert sent.body["messages"][0]["content"] == [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "text", "text": "What is in these?"},
        ]
    assert len(await rig.usage()) == 1


async def test_the_caller_key_is_taken_from_x_api_key_and_a_wrong_one_is_refused(
    rig: Rig,
) -> None:
    text_reply(rig)
    async with rig.client(key="myk_not-a-real-key") as client:
        with pytest.raises(anthropic.AuthenticationError) as refused:
            await client.messages.create(model=MODEL, max_tokens=10, messages=ASK)
    assert refused.value.status_code == 401
    body: Any = refused.value.body
    assert body == {"type": "error", "error": {"type": "authentication_error", "message": ANY}}
    assert "API key" in body["error"]["message"]
    assert not rig.upstream.received
    assert await rig.usage() == []


async def test_count_tokens_is_counted_upstream_or_estimated_and_never_charged(
    rig: Rig,
) -> None:
    rig.reply(json_reply({"input_tokens": 2095}), route="count")
    async with rig.client() as client:
        counted = await client.messages.count_tokens(
            model=MODEL, system="Be brief.", messages=ASK, tools=[WEATHER]
        )
    if rig.kind == "anthropic":
        assert counted.input_tokens == 2095
        [sent] = rig.sent("count")
        assert sent.body == {
            "model": MODEL,
            "system": "Be brief.",
            "messages": ASK,
            "tools": [WEATHER],
        }
    else:
        assert counted.input_tokens > tokens.estimate_text("Plan my afternoon in Lisbon.")
        assert not rig.upstream.received
    assert await rig.usage() == []
    assert await rig.spent() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": MODEL, "messages": ASK}, "max_tokens: Field required"),
        ({"max_tokens": 5, "messages": ASK}, "model: Field required"),
        (
            {"model": MODEL, "max_tokens": 5, "messages": ASK, "temperature": 2},
            "temperature: Input should be less than or equal to 1",
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        (
            {
                "model": MODEL,
                "max_tokens": 5,
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}
                ],
            },
            "messages.0.content.0.source.type: Input tag 'file' found using 'type' does not "
            "match any of the expected tags: 'base64', 'url'",
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": ASK, "n": 2},
            "n: Extra inputs are not permitted",
        ),
    ],
)
async def test_a_request_anthropic_would_refuse_is_refused_in_its_shape(
    rig: Rig, body: dict[str, Any], message: str
) -> None:
    text_reply(rig)
    async with rig.client() as client:
        with pytest.raises(anthropic.BadRequestError) as refused:
            await client.post("/v1/messages", body=body, cast_to=httpx.Response)
    assert refused.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
    }
    assert not rig.upstream.received
    assert await rig.usage() == []
