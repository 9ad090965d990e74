"""The Anthropic adapter end to end: the official ``openai`` SDK -> a real modelyard server ->
a local fake Anthropic Messages API (tests/gateway/anthropic_e2e.py) that checks every request
the way Anthropic would and answers with recorded payloads from tests/fixtures/anthropic.
Each test also checks that the fake had nothing to refuse, that the planted upstream key is in
no response body and no log record, and the usage row the call left, with its exact cost."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import openai
import orjson
import pytest

from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.anthropic_e2e import (
    KEY,
    MODEL,
    FakeAnthropic,
    Rig,
    error_reply,
    sdk_error_body,
    text_reply,
)
from tests.gateway.upstream import Handler, fake_upstream, fixture, json_reply, sse_reply

PROVIDER = "anthropic-e2e"
PRICE = {"input_per_mtok": "3", "output_per_mtok": "15", "cached_input_per_mtok": "0.3"}
FAST_RETRY = {"max_attempts": 3, "base_delay_ms": 1, "max_delay_ms": 5, "jitter": False}
ASK: list[Any] = [{"role": "user", "content": "Plan my afternoon in Lisbon."}]
ANSWER = "Take the 28 tram up to Miradouro da Graça for the view at sunset."
TEXT_COST = "0.0015144"  # message_text: 165 at 3, 2048 cache reads at 0.3, 27 out at 15 /Mtok
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
async def rig(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Any,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[Rig]:
    caplog.set_level(logging.DEBUG)
    await registry.settings.set(admin, "gateway.retry", FAST_RETRY)
    fake = FakeAnthropic()
    async with fake_upstream({("POST", "/v1/messages"): fake.messages}) as upstream:
        fake.upstream = upstream
        provider = await registry.providers.create(
            admin, {"name": PROVIDER, "kind": "anthropic", "base_url": upstream.url, "api_key": KEY}
        )
        await registry.models.create(
            admin,
            {
                "provider_id": provider.id,
                "model_id": MODEL,
                "capabilities": ["text", "streaming", "vision", "function_calling"],
                "price": PRICE,
            },
        )
        user = await registry.users.create(admin, UserCreate(email="app@example.com"))
        caller = await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))
        local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
        yield Rig(local, registry, caller.key, fake, caplog)


def check_row(row: Any, tokens: tuple[int, int, int], cost: str, status: str = "ok") -> None:
    assert (row.provider_name, row.model_name, row.status) == (PROVIDER, MODEL, status)
    assert (row.prompt_tokens, row.completion_tokens, row.cached_tokens) == tokens
    assert row.estimated is False
    assert isinstance(row.cost, Decimal)
    assert row.cost == Decimal(cost)


async def test_a_rich_request_reaches_anthropic_as_the_exact_messages_request(rig: Rig) -> None:
    rig.reply(text_reply())
    request = fixture("anthropic/chat_request.json")  # system, images, tools, tool results
    async with rig.client() as client:
        raw = await client.chat.completions.with_raw_response.create(**request)
    completion = raw.parse()
    [sent] = rig.fake.bodies
    assert sent == fixture("anthropic/chat_request_upstream.json")
    assert raw.headers["x-modelyard-provider"] == PROVIDER
    assert completion.id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    [choice] = completion.choices
    assert (choice.message.content, choice.message.tool_calls) == (ANSWER, None)
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2213, 27)
    assert completion.usage.total_tokens == 2240
    [row] = await rig.usage()
    assert (row.operation, row.attempts) == ("function_call", 1)
    check_row(row, (2213, 27, 2048), TEXT_COST)


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop")],
)
async def test_stop_reasons_become_openai_finish_reasons(
    rig: Rig, stop_reason: str, finish_reason: str
) -> None:
    rig.reply(text_reply(stop_reason=stop_reason))
    async with rig.client() as client:
        completion = await client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=27)
    assert completion.choices[0].finish_reason == finish_reason
    [sent] = rig.fake.bodies
    assert (sent["max_tokens"], "system" in sent) == (27, False)
    [row] = await rig.usage()
    assert row.operation == "chat"
    check_row(row, (2213, 27, 2048), TEXT_COST)


async def test_a_stream_arrives_as_sse_chunks_with_the_usage_chunk_last(rig: Rig) -> None:
    rig.reply(sse_reply(fixture("anthropic/stream_text.sse")))
    messages = [{"role": "system", "content": "Be brief."}, *ASK]
    async with rig.client() as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    [sent] = rig.fake.bodies
    assert (sent["stream"], sent["system"], sent["max_tokens"]) == (True, "Be brief.", 4096)
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": ASK[0]["content"]}]}
    ]
    *content, last = chunks
    assert "".join(c.choices[0].delta.content or "" for c in content) == ANSWER
    assert content[-1].choices[0].finish_reason == "stop"
    assert {c.id for c in chunks} == {"msg_01XFDUDYJgAACzvnptvVoYEL"}
    assert all(c.usage is None for c in content)
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (2213, 27)
    [row] = await rig.usage()
    check_row(row, (2213, 27, 2048), TEXT_COST)
    assert row.ttft_ms is not None


async def test_a_streamed_tool_use_assembles_into_tool_calls(rig: Rig) -> None:
    rig.reply(sse_reply(fixture("anthropic/stream_tool_use.sse")))
    async with rig.client() as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=ASK, tools=[WEATHER], stream=True
        )
        chunks = [chunk async for chunk in stream]
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk.choices[0].delta.tool_calls or ():
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            call["name"] += (delta.function.name or "") if delta.function else ""
            call["arguments"] += (delta.function.arguments or "") if delta.function else ""
    assert [(c["name"], orjson.loads(c["arguments"])) for c in calls.values()] == [
        ("get_weather", {"city": "Porto", "unit": "celsius"}),
        ("get_local_time", {"timezone": "Europe/Lisbon"}),
        ("list_open_museums", {}),
    ]
    assert calls[0]["id"] == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert all(chunk.usage is None for chunk in chunks)  # not asked for, still recorded
    [row] = await rig.usage()
    assert row.operation == "function_call"
    check_row(row, (728, 104, 256), "0.0030528")  # 472 at 3, 256 at 0.3, 104 at 15 /Mtok


async def test_tool_calls_round_trip_as_tool_use_and_tool_result_blocks(rig: Rig) -> None:
    tool_use = fixture("anthropic/message_tool_use.json")
    uses = [block for block in tool_use["content"] if block["type"] == "tool_use"]
    outputs = ['{"temperature_c": 19}', "16:40"]
    rig.reply(json_reply(tool_use), text_reply())
    async with rig.client() as client:
        first = await client.chat.completions.create(
            model=MODEL, messages=ASK, tools=[WEATHER], tool_choice="required"
        )
        [choice] = first.choices
        calls = [call.model_dump() for call in choice.message.tool_calls or ()]
        results = [
            {"role": "tool", "tool_call_id": call["id"], "content": output}
            for call, output in zip(calls, outputs, strict=True)
        ]
        follow_up: list[Any] = [*ASK, choice.message.model_dump(exclude_none=True), *results]
        second = await client.chat.completions.create(
            model=MODEL, messages=follow_up, tools=[WEATHER]
        )
    assert choice.finish_reason == "tool_calls"
    assert [
        (c["id"], c["type"], c["function"]["name"], orjson.loads(c["function"]["arguments"]))
        for c in calls
    ] == [(use["id"], "function", use["name"], use["input"]) for use in uses]
    assert second.choices[0].message.content == ANSWER
    asked, answered = rig.fake.bodies
    function = WEATHER["function"]
    assert asked["tools"] == [
        {
            "name": function["name"],
            "description": function["description"],
            "input_schema": function["parameters"],
        }
    ]
    assert asked["tool_choice"] == {"type": "any"}
    assert answered["messages"][1:] == [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": choice.message.content}, *uses],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": use["id"], "content": output}
                for use, output in zip(uses, outputs, strict=True)
            ],
        },
    ]
    rows = sorted(await rig.usage(), key=lambda r: r.completion_tokens)
    assert [r.operation for r in rows] == ["function_call", "function_call"]
    check_row(rows[0], (2213, 27, 2048), TEXT_COST)
    check_row(rows[1], (472, 121, 0), "0.003231")  # 472 at 3, 121 at 15 /Mtok


async def test_a_rate_limit_is_retried_after_the_upstream_retry_after(rig: Rig) -> None:
    rig.reply(error_reply(429, **{"retry-after": "0.3"}), text_reply())
    async with rig.client() as client:
        raw = await client.chat.completions.with_raw_response.create(model=MODEL, messages=ASK)
    assert raw.parse().choices[0].message.content == ANSWER
    assert raw.headers["x-modelyard-attempts"] == "2"
    first, second = rig.fake.times
    assert second - first >= 0.29  # the retry policy alone waits 1 ms
    [row] = await rig.usage()
    assert row.attempts == 2
    check_row(row, (2213, 27, 2048), TEXT_COST)


@pytest.mark.parametrize(
    ("reply", "error", "status", "code", "calls"),
    [
        (error_reply(429, **{"retry-after": "0"}), openai.RateLimitError, 429, "rate_limited", 3),
        (
            error_reply(401, f"invalid x-api-key: {KEY}"),  # an upstream that echoes the key
            openai.InternalServerError,
            502,
            "upstream_auth_failed",
            1,
        ),
        (error_reply(400), openai.BadRequestError, 400, "upstream_bad_request", 1),
    ],
    ids=["persistent-429", "401", "400"],
)
async def test_upstream_errors_reach_the_client_mapped_and_without_the_key(
    rig: Rig,
    reply: Handler,
    error: type[openai.APIStatusError],
    status: int,
    code: str,
    calls: int,
) -> None:
    rig.reply(reply)
    async with rig.client() as client:
        with pytest.raises(error) as caught:
            await client.chat.completions.create(model=MODEL, messages=ASK)
    failure = caught.value
    body = sdk_error_body(failure)
    assert (failure.status_code, body["code"]) == (status, code)
    assert body["message"].startswith(f"{PROVIDER}: upstream returned HTTP ")
    assert KEY not in failure.response.text
    if status == 502:
        assert body["message"].endswith("authentication_error: invalid x-api-key: ***")
    if status == 429:
        assert failure.response.headers["retry-after"] == "1"
    assert len(rig.fake.bodies) == calls  # only a rate limit is retried
    [row] = await rig.usage()
    assert (row.error_code, row.attempts) == (code.upper(), calls)
    check_row(row, (0, 0, 0), "0", status="error")


async def test_an_error_event_mid_stream_ends_the_stream_with_an_error(rig: Rig) -> None:
    rig.reply(sse_reply(fixture("anthropic/stream_overloaded.sse")))
    texts: list[str] = []

    async def read(stream: openai.AsyncStream[Any]) -> None:
        async for chunk in stream:
            texts.append(chunk.choices[0].delta.content or "")

    async with rig.client() as client:
        stream = await client.chat.completions.create(model=MODEL, messages=ASK, stream=True)
        with pytest.raises(openai.APIError, match="HTTP 529 overloaded_error: Overloaded"):
            await read(stream)
    assert "".join(texts) == "Take the"
    [row] = await rig.usage()
    assert (row.status, row.error_code, row.estimated) == ("error", "UPSTREAM_UNAVAILABLE", True)
