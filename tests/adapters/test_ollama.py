"""The Ollama adapter against a local fake Ollama: the exact /api/chat request a rich
conversation becomes, replies, NDJSON streams, /api/embed and error mapping."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from modelyard import tokens
from modelyard.adapters.base import StreamChunk, Target, Usage
from modelyard.adapters.ollama import ADAPTER
from modelyard.errors import (
    RateLimited,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tests.gateway.upstream import Handler, fake_upstream, fixture, json_reply

# tests/gateway/upstream.py stores state under a str app key; drop once it uses web.AppKey.

KEY = "ollama-proxy-SECRET-token-77"
CHAT = ("POST", "/api/chat")
EMBED = ("POST", "/api/embed")
ASK = [{"role": "user", "content": "Plan my afternoon in Lisbon."}]


def make_target(url: str, **overrides: Any) -> Target:
    fields: dict[str, Any] = {
        "provider_id": "p2",
        "provider_name": "ollama-local",
        "kind": "ollama",
        "base_url": url,
        "api_key": None,
        "model_id": "llama3.2-vision:11b",
        "config": {"keep_alive": "10m"},
    }
    return Target(**(fields | overrides))


def ndjson_reply(text: str) -> Handler:
    """Send recorded NDJSON, each line in two writes, so lines straddle network reads."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for line in text.splitlines(keepends=True):
            await response.write(line[:7].encode())
            await asyncio.sleep(0)
            await response.write(line[7:].encode())
        await response.write_eof()
        return response

    return handler


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def run(op: str, http: aiohttp.ClientSession, target: Target, body: dict[str, Any]) -> Any:
    if op == "chat":
        return await ADAPTER.chat(http, target, body)
    return [chunk async for chunk in ADAPTER.stream(http, target, body)]


def steps(chunks: list[StreamChunk]) -> list[Any]:
    return [
        (c.chunk["choices"][0]["delta"], c.chunk["choices"][0]["finish_reason"])
        if c.chunk["choices"]
        else c.chunk["usage"]
        for c in chunks
    ]


async def test_a_rich_conversation_becomes_the_exact_api_chat_request(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream({CHAT: json_reply(fixture("ollama/chat.json"))}) as up:
        await ADAPTER.chat(http, make_target(up.url), fixture("ollama/chat_request.json"))
    [sent] = up.received
    assert sent.body == fixture("ollama/chat_request_upstream.json")
    assert "Authorization" not in sent.headers


async def test_a_key_is_sent_as_bearer_for_ollama_behind_a_proxy(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream({CHAT: json_reply(fixture("ollama/chat.json"))}) as up:
        target = make_target(up.url, api_key=KEY, headers={"X-Team": "travel"}, config={})
        await ADAPTER.chat(http, target, {"messages": ASK})
    [sent] = up.received
    assert (sent.headers["Authorization"], sent.headers["X-Team"]) == (f"Bearer {KEY}", "travel")
    assert "keep_alive" not in sent.body
    assert "options" not in sent.body


async def test_a_reply_becomes_a_chat_completion_with_ollama_counts(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream({CHAT: json_reply(fixture("ollama/chat.json"))}) as up:
        result = await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
    assert result.body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": '{"suggestion": "Ride tram 28 up to Miradouro da Graça."}',
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert (result.body["object"], result.body["model"]) == (
        "chat.completion",
        "llama3.2-vision:11b",
    )
    assert result.usage == Usage(96, 17)
    assert result.body["usage"]["total_tokens"] == 113


async def test_tool_calls_get_ids_and_json_string_arguments(http: aiohttp.ClientSession) -> None:
    async with fake_upstream({CHAT: json_reply(fixture("ollama/chat_tool_call.json"))}) as up:
        result = await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
    [choice] = result.body["choices"]
    [call] = choice["message"]["tool_calls"]
    assert (choice["finish_reason"], choice["message"]["content"]) == ("tool_calls", None)
    assert call["id"].startswith("call_")
    assert call["function"] == {
        "name": "get_current_weather",
        "arguments": '{"format":"celsius","location":"Paris, FR"}',
    }
    assert result.usage == Usage(122, 33)


async def test_an_ndjson_stream_yields_role_text_finish_and_usage_last(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream({CHAT: ndjson_reply(fixture("ollama/stream.ndjson"))}) as up:
        chunks = await run("stream", http, make_target(up.url), {"messages": ASK})
    assert up.received[0].body["stream"] is True
    assert steps(chunks)[:-1] == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Ride"}, None),
        ({"content": " tram 28"}, None),
        ({"content": " up to the Graça viewpoint."}, None),
        ({}, "length"),
    ]
    assert [c.usage for c in chunks] == [None] * 5 + [Usage(26, 9)]
    assert chunks[-1].chunk["choices"] == []
    assert {c.chunk["id"] for c in chunks} == {chunks[0].chunk["id"]}


async def test_streamed_tool_calls_become_tool_call_deltas(http: aiohttp.ClientSession) -> None:
    async with fake_upstream({CHAT: ndjson_reply(fixture("ollama/stream_tool_call.ndjson"))}) as up:
        chunks = await run("stream", http, make_target(up.url), {"messages": ASK})
    _, calls, finish, _ = steps(chunks)
    [call] = calls[0]["tool_calls"]
    assert (call["index"], call["type"], call["function"]["name"]) == (
        0,
        "function",
        "get_current_weather",
    )
    assert finish == ({}, "tool_calls")
    assert chunks[-1].usage == Usage(122, 33)


async def test_an_error_line_mid_stream_ends_it_with_an_upstream_error(
    http: aiohttp.ClientSession,
) -> None:
    seen: list[StreamChunk] = []

    async def consume(target: Target) -> None:
        async for chunk in ADAPTER.stream(http, target, {"messages": ASK}):
            seen.append(chunk)

    async with fake_upstream({CHAT: ndjson_reply(fixture("ollama/stream_error.ndjson"))}) as up:
        with pytest.raises(UpstreamError, match="unexpected EOF"):
            await consume(make_target(up.url))
    assert [d for d, _ in steps(seen)] == [
        {"role": "assistant", "content": ""},
        {"content": "Ride"},
    ]


@pytest.mark.parametrize("counted", [True, False])
async def test_embeddings_use_api_embed_with_reported_or_estimated_usage(
    http: aiohttp.ClientSession, counted: bool
) -> None:
    reply = fixture("ollama/embed.json")
    if not counted:
        del reply["prompt_eval_count"]
    inputs = ["Why is the sky blue?", "Why is the grass green?"]
    async with fake_upstream({EMBED: json_reply(reply)}) as up:
        target = make_target(up.url, model_id="all-minilm")
        result = await ADAPTER.embed(http, target, {"input": inputs, "dimensions": 5})
    assert up.received[0].body == {
        "model": "all-minilm",
        "input": inputs,
        "dimensions": 5,
        "keep_alive": "10m",
    }
    assert result.body["object"] == "list"
    assert [(d["index"], d["embedding"]) for d in result.body["data"]] == list(
        enumerate(reply["embeddings"])
    )
    expected = Usage(16, 0) if counted else Usage(tokens.estimate_inputs(inputs), 0, estimated=True)
    assert result.usage == expected


@pytest.mark.parametrize("op", ["chat", "stream"])
@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (404, 'model "llama3.3:70b" not found, try pulling it first', UpstreamBadRequest),
        (
            400,
            "json: cannot unmarshal string into Go value of type api.Message",
            UpstreamBadRequest,
        ),
        (401, "unauthorized", UpstreamAuthFailed),
        (429, "too many requests", RateLimited),
        (
            500,
            "model requires more system memory (11.2 GiB) than is available (7.6 GiB)",
            UpstreamUnavailable,
        ),
        (
            503,
            "server busy, please try again.  maximum pending requests exceeded",
            UpstreamUnavailable,
        ),
    ],
)
async def test_ollama_errors_map_to_domain_errors_with_ollama_message(
    http: aiohttp.ClientSession, op: str, status: int, message: str, error: type[UpstreamError]
) -> None:
    async with fake_upstream({CHAT: json_reply({"error": message}, status)}) as up:
        with pytest.raises(error) as caught:
            await run(op, http, make_target(up.url), {"messages": ASK})
    assert caught.value.message == f"ollama-local: upstream returned HTTP {status}: {message}"
    assert caught.value.upstream_status == status


@pytest.mark.parametrize("op", ["chat", "stream"])
async def test_timeouts_and_refused_connections_are_retryable_errors(
    http: aiohttp.ClientSession, op: str
) -> None:
    async def slow(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1)
        return web.Response()

    async with fake_upstream({CHAT: slow}) as up:
        with pytest.raises(UpstreamTimeout):
            await run(op, http, make_target(up.url, timeout_s=0.1), {"messages": ASK})
    with pytest.raises(UpstreamUnavailable, match="cannot reach upstream"):
        await run(op, http, make_target(up.url), {"messages": ASK})


async def test_the_key_never_appears_in_raised_errors(http: aiohttp.ClientSession) -> None:
    echo = {"error": f"proxy rejected token {KEY}"}
    async with fake_upstream({CHAT: json_reply(echo, 403)}) as up:
        with pytest.raises(UpstreamAuthFailed) as rejected:
            await ADAPTER.chat(http, make_target(up.url, api_key=KEY), {"messages": ASK})
    with pytest.raises(UpstreamUnavailable) as unreachable:
        await ADAPTER.chat(http, make_target(up.url, api_key=KEY), {"messages": ASK})
    for caught in (rejected, unreachable):
        said = "".join(traceback.format_exception(caught.value)) + repr(caught.value.details)
        assert KEY not in said
    assert "proxy rejected token ***" in rejected.value.message


async def test_embeddings_without_input_are_a_bad_request(http: aiohttp.ClientSession) -> None:
    with pytest.raises(UpstreamBadRequest) as caught:
        await ADAPTER.embed(http, make_target("http://127.0.0.1:9"), {"input": []})
    assert caught.value.details == {"param": "input"}
