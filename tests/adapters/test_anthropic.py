"""The Anthropic adapter against a local fake Messages API: the exact request a rich
conversation becomes, the translated replies and streams, and error mapping."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from modelyard.adapters.anthropic import ADAPTER
from modelyard.adapters.base import StreamChunk, Target, Usage
from modelyard.errors import (
    RateLimited,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tests.gateway.upstream import Handler, fake_upstream, fixture, json_reply, sse_reply

KEY = "sk-ant-api03-TEST-secret-anthropic-key-0042"
MODEL = "claude-sonnet-4-5-20250929"
MESSAGES = ("POST", "/v1/messages")
ASK = [{"role": "user", "content": "Plan my afternoon in Lisbon."}]


def make_target(url: str, **overrides: Any) -> Target:
    fields: dict[str, Any] = {
        "provider_id": "p1",
        "provider_name": "anthropic-main",
        "kind": "anthropic",
        "base_url": url,
        "api_key": KEY,
        "model_id": MODEL,
        "headers": {"X-Team": "travel"},
    }
    return Target(**(fields | overrides))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def replying(name: str) -> dict[tuple[str, str], Handler]:
    if name.endswith(".sse"):
        return {MESSAGES: sse_reply(fixture(f"anthropic/{name}"))}
    return {MESSAGES: json_reply(fixture(f"anthropic/{name}"))}


async def run(op: str, http: aiohttp.ClientSession, target: Target, body: dict[str, Any]) -> Any:
    if op == "chat":
        return await ADAPTER.chat(http, target, body)
    return [chunk async for chunk in ADAPTER.stream(http, target, body)]


@pytest.mark.parametrize(
    ("config", "version"), [({}, "2023-06-01"), ({"anthropic_version": "2024-10-22"}, "2024-10-22")]
)
async def test_a_rich_conversation_becomes_the_exact_messages_request(
    http: aiohttp.ClientSession, config: dict[str, Any], version: str
) -> None:
    async with fake_upstream(replying("message_text.json")) as up:
        target = make_target(up.url, config=config)
        await ADAPTER.chat(http, target, fixture("anthropic/chat_request.json"))
    [sent] = up.received
    assert sent.body == fixture("anthropic/chat_request_upstream.json")
    assert (sent.headers["x-api-key"], sent.headers["anthropic-version"]) == (KEY, version)
    headers = {name.lower(): value for name, value in sent.headers.items()}
    assert (headers["content-type"], headers["x-team"]) == ("application/json", "travel")
    assert "Authorization" not in sent.headers


async def test_a_request_anthropic_cannot_serve_is_rejected_before_any_call(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream(replying("message_text.json")) as up:
        with pytest.raises(UpstreamBadRequest, match="n > 1 is not supported"):
            await ADAPTER.chat(http, make_target(up.url), {"messages": ASK, "n": 3})
    assert up.received == []


async def test_a_text_reply_becomes_a_chat_completion_with_cache_usage(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream(replying("message_text.json")) as up:
        result = await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
    assert "stream" not in up.received[0].body
    assert (result.body["id"], result.body["object"]) == (
        "msg_01XFDUDYJgAACzvnptvVoYEL",
        "chat.completion",
    )
    assert result.body["model"] == MODEL
    assert isinstance(result.body["created"], int)
    text = "Take the 28 tram up to Miradouro da Graça for the view at sunset."
    assert result.body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert result.usage == Usage(45 + 2048 + 120, 27, cached_tokens=2048, cache_write_tokens=120)
    assert result.body["usage"] == {
        "prompt_tokens": 2213,
        "completion_tokens": 27,
        "total_tokens": 2240,
        "prompt_tokens_details": {"cached_tokens": 2048},
    }


async def test_tool_use_blocks_become_tool_calls_with_json_arguments(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream(replying("message_tool_use.json")) as up:
        result = await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
    [choice] = result.body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "I'll check the current weather and local time in Porto."
    assert choice["message"]["tool_calls"] == [
        {
            "id": "toolu_01A09q90qw90lq917835lq9",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Porto","unit":"celsius"}'},
        },
        {
            "id": "toolu_01BcW2rT5xNq8mYk3pLz7vHd",
            "type": "function",
            "function": {"name": "get_local_time", "arguments": '{"timezone":"Europe/Lisbon"}'},
        },
    ]
    assert result.usage == Usage(472, 121)


def steps(chunks: list[StreamChunk]) -> list[Any]:
    return [
        (c.chunk["choices"][0]["delta"], c.chunk["choices"][0]["finish_reason"])
        if c.chunk["choices"]
        else c.chunk["usage"]
        for c in chunks
    ]


async def test_a_stream_yields_role_then_text_then_finish_and_usage_last(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream(replying("stream_text.sse")) as up:
        chunks = await run("stream", http, make_target(up.url), {"messages": ASK})
    assert up.received[0].body["stream"] is True
    assert steps(chunks) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Take the"}, None),
        ({"content": " 28 tram up to Miradouro da Graça"}, None),
        ({"content": " for the view at sunset."}, None),
        ({}, "stop"),
        {
            "prompt_tokens": 2213,
            "completion_tokens": 27,
            "total_tokens": 2240,
            "prompt_tokens_details": {"cached_tokens": 2048},
        },
    ]
    assert [c.usage for c in chunks] == [None] * 5 + [
        Usage(2213, 27, cached_tokens=2048, cache_write_tokens=120)
    ]
    assert {c.chunk["id"] for c in chunks} == {"msg_01XFDUDYJgAACzvnptvVoYEL"}
    assert {c.chunk["object"] for c in chunks} == {"chat.completion.chunk"}


async def test_streamed_tool_use_becomes_indexed_tool_call_deltas(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream(replying("stream_tool_use.sse")) as up:
        chunks = await run("stream", http, make_target(up.url), {"messages": ASK})

    def opens(index: int, call_id: str, name: str) -> Any:
        function = {"name": name, "arguments": ""}
        call = {"index": index, "id": call_id, "type": "function", "function": function}
        return {"tool_calls": [call]}, None

    def adds(index: int, arguments: str) -> Any:
        return {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}, None

    assert steps(chunks)[1:-1] == [
        ({"content": "I'll check the weather in Porto."}, None),
        opens(0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"),
        adds(0, '{"city": "Por'),
        adds(0, 'to", "unit": "celsius"}'),
        opens(1, "toolu_01BcW2rT5xNq8mYk3pLz7vHd", "get_local_time"),
        adds(1, '{"timezone": "Europe/Lisbon"}'),
        opens(2, "toolu_01Kq7ZbN3xW9mRt2VyLp4sHc", "list_open_museums"),
        adds(2, "{}"),  # a call without arguments still sends a JSON object
        ({}, "tool_calls"),
    ]
    assert chunks[-1].usage == Usage(472 + 256, 104, cached_tokens=256)


@pytest.mark.parametrize(
    ("payload", "error", "match"),
    [
        ("stream_overloaded.sse", UpstreamUnavailable, "HTTP 529 overloaded_error: Overloaded"),
        ("stream_cut_off.sse", UpstreamUnavailable, "ended before message_stop"),
    ],
)
async def test_a_stream_that_fails_midway_ends_with_the_mapped_error(
    http: aiohttp.ClientSession, payload: str, error: type[UpstreamError], match: str
) -> None:
    seen: list[StreamChunk] = []

    async def consume(target: Target) -> None:
        async for chunk in ADAPTER.stream(http, target, {"messages": ASK}):
            seen.append(chunk)

    async with fake_upstream(replying(payload)) as up:
        with pytest.raises(error, match=match):
            await consume(make_target(up.url))
    assert [d for d, _ in steps(seen)] == [
        {"role": "assistant", "content": ""},
        {"content": "Take the"},
    ]


@pytest.mark.parametrize("op", ["chat", "stream"])
@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (400, {}, UpstreamBadRequest, None),
        (401, {}, UpstreamAuthFailed, None),
        (429, {"retry-after": "17"}, RateLimited, 17.0),
        (500, {}, UpstreamUnavailable, None),
        (529, {}, UpstreamUnavailable, None),
    ],
)
async def test_anthropic_errors_map_to_domain_errors_with_anthropic_message(
    http: aiohttp.ClientSession,
    op: str,
    status: int,
    headers: dict[str, str],
    error: type[UpstreamError],
    retry_after: float | None,
) -> None:
    document = fixture(f"anthropic/error_{status}.json")
    async with fake_upstream({MESSAGES: json_reply(document, status, headers)}) as up:
        with pytest.raises(error) as caught:
            await run(op, http, make_target(up.url), {"messages": ASK})
    assert type(caught.value) is error
    said = caught.value.message
    assert said.startswith(
        f"anthropic-main: upstream returned HTTP {status} {document['error']['type']}: "
    )
    assert document["error"]["message"][:60] in said
    assert document["request_id"] not in said  # the message, never the whole body
    assert (caught.value.upstream_status, caught.value.retry_after) == (status, retry_after)


@pytest.mark.parametrize("op", ["chat", "stream"])
async def test_timeouts_and_refused_connections_are_retryable_errors(
    http: aiohttp.ClientSession, op: str
) -> None:
    async def slow(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1)
        return web.Response()

    async with fake_upstream({MESSAGES: slow}) as up:
        with pytest.raises(UpstreamTimeout):
            await run(op, http, make_target(up.url, timeout_s=0.1), {"messages": ASK})
    with pytest.raises(UpstreamUnavailable, match="cannot reach upstream"):
        await run(op, http, make_target(up.url), {"messages": ASK})


async def test_the_key_never_appears_in_raised_errors(http: aiohttp.ClientSession) -> None:
    echo = {"type": "error", "error": {"type": "authentication_error", "message": f"bad {KEY}"}}
    async with fake_upstream({MESSAGES: json_reply(echo, 401)}) as up:
        with pytest.raises(UpstreamAuthFailed) as rejected:
            await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
    with pytest.raises(UpstreamUnavailable) as unreachable:
        await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
    for caught in (rejected, unreachable):
        said = "".join(traceback.format_exception(caught.value)) + repr(caught.value.details)
        assert KEY not in said
    assert "bad ***" in rejected.value.message


async def test_embeddings_are_refused_as_anthropic_offers_none(http: aiohttp.ClientSession) -> None:
    with pytest.raises(UpstreamBadRequest, match="does not offer embeddings"):
        await ADAPTER.embed(http, make_target("http://127.0.0.1:9"), {"input": "hi"})
