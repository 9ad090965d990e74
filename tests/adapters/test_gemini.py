"""The Gemini adapter against a local fake Gemini: the exact generateContent request a rich
conversation becomes, the translated replies and streams, embeddings and error mapping."""

from __future__ import annotations

import asyncio
import base64
import traceback
from array import array
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from modelyard import tokens
from modelyard.adapters.base import StreamChunk, Target, Usage
from modelyard.adapters.gemini import ADAPTER
from modelyard.errors import (
    RateLimited,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tests.gateway.upstream import Handler, fake_upstream, fixture, json_reply, sse_reply

# tests/gateway/upstream.py stores state under a str app key; drop once it uses web.AppKey.

KEY = "AIzaSy-TEST-secret-gemini-key-0042"
MODEL = "gemini-2.5-flash"
GENERATE = ("POST", f"/v1beta/models/{MODEL}:generateContent")
STREAM = ("POST", f"/v1beta/models/{MODEL}:streamGenerateContent")
EMBED = ("POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents")
ASK = [{"role": "user", "content": "Plan my afternoon in Lisbon."}]


def make_target(url: str, **overrides: Any) -> Target:
    fields: dict[str, Any] = {
        "provider_id": "p1",
        "provider_name": "gemini-main",
        "kind": "gemini",
        "base_url": f"{url}/v1beta",
        "api_key": KEY,
        "model_id": MODEL,
        "headers": {"X-Team": "travel"},
    }
    return Target(**(fields | overrides))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def generating(name: str) -> dict[tuple[str, str], Handler]:
    return {GENERATE: json_reply(fixture(f"gemini/{name}.json"))}


def streaming(name: str) -> dict[tuple[str, str], Handler]:
    return {STREAM: sse_reply(fixture(f"gemini/{name}.sse"))}


async def run(op: str, http: aiohttp.ClientSession, target: Target, body: dict[str, Any]) -> Any:
    if op == "chat":
        return await ADAPTER.chat(http, target, body)
    return [chunk async for chunk in ADAPTER.stream(http, target, body)]


async def test_a_rich_conversation_becomes_the_exact_generate_content_request(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream(generating("generate_text")) as up:
        await ADAPTER.chat(http, make_target(up.url), fixture("gemini/chat_request.json"))
    [sent] = up.received
    assert sent.body == fixture("gemini/chat_request_upstream.json")
    assert (sent.headers["x-goog-api-key"], sent.headers["X-Team"]) == (KEY, "travel")
    assert sent.query == {}  # the key never travels in the URL
    assert "Authorization" not in sent.headers


async def test_a_text_reply_becomes_a_chat_completion_with_thinking_and_cache_usage(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream(generating("generate_text")) as up:
        result = await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
    assert result.body["id"] == "chatcmpl-mWQ5aLzVBoKgz7IPkfOXqAM"
    assert (result.body["object"], result.body["model"]) == ("chat.completion", MODEL)
    text = "Take the 28 tram up to Miradouro da Graça for the view at sunset."
    assert result.body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert result.usage == Usage(412, 19 + 97, cached_tokens=256)
    assert result.body["usage"] == {
        "prompt_tokens": 412,
        "completion_tokens": 116,
        "total_tokens": 528,
        "prompt_tokens_details": {"cached_tokens": 256},
        "completion_tokens_details": {"reasoning_tokens": 97},
    }


async def test_function_calls_become_tool_calls_whose_thought_signature_goes_back_upstream(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream(generating("generate_tool_call")) as up:
        result = await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
        [choice] = result.body["choices"]
        calls = choice["message"]["tool_calls"]
        replies = [{"role": "tool", "tool_call_id": c["id"], "content": "ok"} for c in calls]
        follow_up = [*ASK, choice["message"], *replies]
        await ADAPTER.chat(http, make_target(up.url), {"messages": follow_up})
    assert (choice["finish_reason"], choice["message"]["content"]) == ("tool_calls", None)
    assert [c["function"] for c in calls] == [
        {"name": "get_weather", "arguments": '{"city":"Porto"}'},
        {"name": "get_local_time", "arguments": '{"timezone":"Europe/Lisbon"}'},
    ]
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in calls)
    signature = "CiIBVKhc7oNv2tqzpJ0YLJ0dGhpbmtpbmc="
    assert calls[0]["extra_content"] == {"google": {"thought_signature": signature}}
    assert result.usage == Usage(118, 31 + 55)
    model_turn, results_turn = up.received[1].body["contents"][1:]
    assert model_turn["parts"][0] == {
        "functionCall": {"name": "get_weather", "args": {"city": "Porto"}},
        "thoughtSignature": signature,
    }
    assert [p["functionResponse"]["name"] for p in results_turn["parts"]] == [
        "get_weather",
        "get_local_time",
    ]


async def test_a_blocked_prompt_is_a_content_filter_finish_without_content(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream(generating("blocked_prompt")) as up:
        result = await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
    [choice] = result.body["choices"]
    assert (choice["message"]["content"], choice["finish_reason"]) == (None, "content_filter")
    assert result.usage == Usage(12, 0)


def deltas(chunks: list[StreamChunk]) -> list[Any]:
    return [
        (c.chunk["choices"][0]["delta"], c.chunk["choices"][0]["finish_reason"])
        if c.chunk["choices"]
        else c.chunk["usage"]
        for c in chunks
    ]


async def test_a_stream_yields_role_then_text_then_finish_and_usage_last(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream(streaming("stream_text")) as up:
        chunks = await run("stream", http, make_target(up.url), {"messages": ASK})
    [sent] = up.received
    assert (sent.query, sent.headers["x-goog-api-key"]) == ({"alt": "sse"}, KEY)
    assert deltas(chunks)[:-1] == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Take the"}, None),
        ({"content": " 28 tram up to Miradouro da Graça"}, None),
        ({"content": " for the view at sunset."}, None),
        ({}, "stop"),
    ]
    assert [c.usage for c in chunks] == [None] * 5 + [Usage(412, 116, cached_tokens=256)]
    assert chunks[-1].chunk["usage"]["completion_tokens_details"] == {"reasoning_tokens": 97}
    assert {c.chunk["id"] for c in chunks} == {chunks[0].chunk["id"]}
    assert {c.chunk["object"] for c in chunks} == {"chat.completion.chunk"}


async def test_streamed_function_calls_become_indexed_tool_call_deltas(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream(streaming("stream_tool_call")) as up:
        chunks = await run("stream", http, make_target(up.url), {"messages": ASK})
    steps = deltas(chunks)
    calls = [step[0]["tool_calls"][0] for step in steps[1:3]]
    assert [(c["index"], c["function"]["name"]) for c in calls] == [
        (0, "get_weather"),
        (1, "get_local_time"),
    ]
    assert calls[0]["extra_content"]["google"]["thought_signature"].startswith("CiIB")
    assert steps[3] == ({}, "tool_calls")
    assert chunks[-1].usage == Usage(118, 86)


async def test_an_error_event_mid_stream_ends_it_with_the_mapped_error(
    http: aiohttp.ClientSession,
) -> None:
    seen: list[StreamChunk] = []

    async def consume(target: Target) -> None:
        async for chunk in ADAPTER.stream(http, target, {"messages": ASK}):
            seen.append(chunk)

    async with fake_upstream(streaming("stream_overloaded")) as up:
        with pytest.raises(UpstreamUnavailable, match="overloaded"):
            await consume(make_target(up.url))
    assert [d for d, _ in deltas(seen)] == [
        {"role": "assistant", "content": ""},
        {"content": "Take the"},
    ]


@pytest.mark.parametrize("encoding", [None, "float", "base64"])
async def test_embeddings_use_batch_embed_contents_and_estimated_usage(
    http: aiohttp.ClientSession, encoding: str | None
) -> None:
    inputs = ["Lisbon trams", "Porto wine cellars"]
    body = {"input": inputs, "dimensions": 5} | ({"encoding_format": encoding} if encoding else {})
    async with fake_upstream({EMBED: json_reply(fixture("gemini/batch_embed.json"))}) as up:
        target = make_target(up.url, model_id="gemini-embedding-001")
        result = await ADAPTER.embed(http, target, body)
    model, dimensions = "models/gemini-embedding-001", 5
    assert up.received[0].body["requests"] == [
        {"model": model, "content": {"parts": [{"text": t}]}, "outputDimensionality": dimensions}
        for t in inputs
    ]
    assert up.received[0].headers["x-goog-api-key"] == KEY
    expected = [e["values"] for e in fixture("gemini/batch_embed.json")["embeddings"]]
    vectors = [d["embedding"] for d in result.body["data"]]
    if encoding == "base64":  # float32, as OpenAI sends it
        vectors = [array("f", base64.b64decode(v)).tolist() for v in vectors]
        expected = [array("f", e).tolist() for e in expected]
    assert vectors == expected
    assert [d["index"] for d in result.body["data"]] == [0, 1]
    assert result.usage == Usage(tokens.estimate_inputs(inputs), 0, estimated=True)
    assert result.body["usage"]["prompt_tokens"] == result.usage.prompt_tokens


@pytest.mark.parametrize("op", ["chat", "stream"])
@pytest.mark.parametrize(
    ("payload", "status", "headers", "error", "retry_after"),
    [
        ("error_rate_limited", 429, {}, RateLimited, 27.0),
        ("error_rate_limited", 429, {"Retry-After": "3"}, RateLimited, 3.0),
        ("error_invalid_key", 400, {}, UpstreamAuthFailed, None),
        ("error_permission_denied", 403, {}, UpstreamAuthFailed, None),
        ("error_invalid_argument", 400, {}, UpstreamBadRequest, None),
        ("error_not_found", 404, {}, UpstreamBadRequest, None),
        ("error_unavailable", 503, {}, UpstreamUnavailable, None),
        ("error_internal", 500, {}, UpstreamUnavailable, None),
    ],
)
async def test_gemini_errors_map_to_domain_errors_with_gemini_message(
    http: aiohttp.ClientSession,
    op: str,
    payload: str,
    status: int,
    headers: dict[str, str],
    error: type[UpstreamError],
    retry_after: float | None,
) -> None:
    document = fixture(f"gemini/{payload}.json")
    reply = json_reply(document, status, headers)
    async with fake_upstream({GENERATE: reply, STREAM: reply}) as up:
        with pytest.raises(error) as caught:
            await run(op, http, make_target(up.url), {"messages": ASK})
    assert document["error"]["message"][:40] in caught.value.message
    assert document["error"]["status"] in caught.value.message
    assert (caught.value.upstream_status, caught.value.retry_after) == (status, retry_after)


@pytest.mark.parametrize("op", ["chat", "stream"])
async def test_timeouts_and_refused_connections_are_retryable_errors(
    http: aiohttp.ClientSession, op: str
) -> None:
    async def slow(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1)
        return web.Response()

    async with fake_upstream({GENERATE: slow, STREAM: slow}) as up:
        with pytest.raises(UpstreamTimeout):
            await run(op, http, make_target(up.url, timeout_s=0.1), {"messages": ASK})
    with pytest.raises(UpstreamUnavailable, match="cannot reach upstream"):
        await run(op, http, make_target(up.url), {"messages": ASK})


async def test_the_key_never_appears_in_raised_errors(http: aiohttp.ClientSession) -> None:
    echo = {"error": {"code": 400, "message": f"Bad key {KEY}", "status": "INVALID_ARGUMENT"}}
    async with fake_upstream({GENERATE: json_reply(echo, 400)}) as up:
        with pytest.raises(UpstreamBadRequest) as rejected:
            await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
    with pytest.raises(UpstreamUnavailable) as unreachable:
        await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
    for caught in (rejected, unreachable):
        said = "".join(traceback.format_exception(caught.value)) + repr(caught.value.details)
        assert KEY not in said
    assert "Bad key ***" in rejected.value.message
