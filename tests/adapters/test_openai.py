"""The OpenAI adapter against a local fake OpenAI: the exact request that goes upstream,
replies and streams relayed with their usage, embeddings, and failures mapped at the edge."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from modelyard import tokens
from modelyard.adapters.base import StreamChunk, Target, Usage
from modelyard.adapters.openai import ADAPTER
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

KEY = "sk-proj-TEST-secret-openai-key-0042"
CHAT = ("POST", "/v1/chat/completions")
EMBED = ("POST", "/v1/embeddings")
ASK = [{"role": "user", "content": "Say hello."}]
SENT_HEADERS = {
    "Authorization": f"Bearer {KEY}",
    "OpenAI-Organization": "org-modelyard",
    "OpenAI-Project": "proj_modelyard",
    "X-Team": "weather",
    "Content-Type": "application/json",
}


def make_target(url: str, **overrides: Any) -> Target:
    fields: dict[str, Any] = {
        "provider_id": "p1",
        "provider_name": "openai-main",
        "kind": "openai",
        "base_url": f"{url}/v1",
        "api_key": KEY,
        "model_id": "gpt-4o-mini",
        "organization": "org-modelyard",
        "headers": {"X-Team": "weather"},
        "config": {"project": "proj_modelyard"},
    }
    return Target(**(fields | overrides))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def run(
    op: str, http: aiohttp.ClientSession, target: Target, body: Any, into: list[Any] | None = None
) -> Any:
    """One call; a stream's chunks are collected in ``into`` (kept when the stream fails)."""
    if op == "chat":
        return await ADAPTER.chat(http, target, body)
    if op == "embed":
        return await ADAPTER.embed(http, target, body)
    chunks = [] if into is None else into
    async for chunk in ADAPTER.stream(http, target, body):
        chunks.append(chunk)
    return chunks


async def test_the_chat_body_goes_upstream_unchanged_with_auth_org_project_and_headers(
    http: aiohttp.ClientSession,
) -> None:
    body = fixture("openai/chat_request.json")
    async with fake_upstream({CHAT: json_reply(fixture("openai/chat_completion.json"))}) as up:
        await ADAPTER.chat(http, make_target(up.url), body)
    [sent] = up.received
    assert sent.path == "/v1/chat/completions"
    assert sent.body == fixture("openai/chat_request.json")  # unknown fields included
    assert sent.body["x_vendor_extension"] == {"top_k": 40, "repetition_penalty": 1.1}
    assert {name: sent.headers[name] for name in SENT_HEADERS} == SENT_HEADERS
    assert body == fixture("openai/chat_request.json")  # the caller's body is not touched


PRODUCED = 'get_current_weather{\n"location": "Boston, MA"\n}'  # chat_tool_calls.json
ESTIMATE = Usage(tokens.estimate_messages(ASK), tokens.estimate_text(PRODUCED), estimated=True)


@pytest.mark.parametrize(
    ("payload", "reported", "usage"),
    [
        ("chat_completion", True, Usage(1117, 46, cached_tokens=1024)),
        ("chat_tool_calls", True, Usage(82, 17, cached_tokens=0)),
        ("chat_tool_calls", False, ESTIMATE),  # no usage: estimated from the reply, marked
    ],
)
async def test_the_reply_is_returned_as_sent_with_its_usage_and_cached_tokens(
    http: aiohttp.ClientSession, payload: str, reported: bool, usage: Usage
) -> None:
    document = fixture(f"openai/{payload}.json")
    if not reported:
        del document["usage"]
    async with fake_upstream({CHAT: json_reply(document)}) as up:
        result = await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
    assert result.body == document
    assert result.usage == usage


async def test_a_compatible_vendor_uses_its_paths_and_sends_no_credentials_without_a_key(
    http: aiohttp.ClientSession,
) -> None:
    routes: dict[tuple[str, str], Handler] = {
        ("POST", "/openai/v1/chat"): json_reply(fixture("openai/chat_completion.json")),
        ("POST", "/openai/v1/embed"): json_reply(fixture("openai/embeddings.json")),
    }
    async with fake_upstream(routes) as up:
        target = make_target(
            up.url,
            kind="openai_compatible",
            base_url=f"{up.url}/openai/v1",
            api_key=None,
            organization=None,
            config={"vendor": "vllm", "chat_path": "/chat", "embeddings_path": "/embed"},
        )
        await ADAPTER.chat(http, target, {"messages": ASK})
        await ADAPTER.embed(http, target, {"input": "x"})
    assert [r.path for r in up.received] == ["/openai/v1/chat", "/openai/v1/embed"]
    for sent in up.received:
        assert not {"Authorization", "OpenAI-Organization", "OpenAI-Project"} & set(sent.headers)


@pytest.mark.parametrize(
    "options",
    [None, {"include_usage": False}, {"include_usage": True}, {"include_obfuscation": False}],
)
async def test_a_stream_always_asks_for_usage_and_keeps_other_stream_options(
    http: aiohttp.ClientSession, options: dict[str, Any] | None
) -> None:
    body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": ASK, "stream": True, "seed": 7}
    if options is not None:
        body["stream_options"] = options
    async with fake_upstream({CHAT: sse_reply(fixture("openai/chat_stream.sse"))}) as up:
        await run("stream", http, make_target(up.url), body)
    [sent] = up.received
    assert sent.body == body | {"stream_options": (options or {}) | {"include_usage": True}}
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert body.get("stream_options") == options  # the caller's wish stays where it was


@pytest.mark.parametrize(
    ("payload", "usage"),
    [
        ("chat_stream", Usage(1117, 9, cached_tokens=1024)),
        ("chat_stream_tool_calls", Usage(82, 17)),
        ("chat_stream_compatible_no_usage", None),  # keep-alive comments, usage ignored
    ],
)
async def test_stream_events_are_relayed_in_order_until_done_with_usage_on_its_chunk(
    http: aiohttp.ClientSession, payload: str, usage: Usage | None
) -> None:
    recorded = fixture(f"openai/{payload}.sse")
    events = [orjson.loads(e[6:]) for e in recorded.split("\n\n") if e.startswith("data: {")]
    late = '\n\ndata: {"after": "[DONE]"}\n\n'
    async with fake_upstream({CHAT: sse_reply(recorded + late)}) as up:
        chunks: list[StreamChunk] = await run("stream", http, make_target(up.url), {})
    assert [c.chunk for c in chunks] == events
    assert [c.usage for c in chunks] == [None] * (len(events) - 1) + [usage]


@pytest.mark.parametrize("reported", [True, False])
async def test_embeddings_go_upstream_unchanged_with_usage_reported_or_estimated(
    http: aiohttp.ClientSession, reported: bool
) -> None:
    document, request = fixture("openai/embeddings.json"), fixture("openai/embeddings_request.json")
    if not reported:
        del document["usage"]
    async with fake_upstream({EMBED: json_reply(document)}) as up:
        result = await ADAPTER.embed(http, make_target(up.url), request)
    [sent] = up.received
    assert (sent.path, sent.body) == ("/v1/embeddings", fixture("openai/embeddings_request.json"))
    assert sent.headers["OpenAI-Project"] == "proj_modelyard"
    assert result.body == document
    estimate = Usage(tokens.estimate_inputs(request["input"]), 0, estimated=True)
    assert result.usage == (Usage(13, 0) if reported else estimate)


@pytest.mark.parametrize("op", ["chat", "stream", "embed"])
@pytest.mark.parametrize(
    ("status", "payload", "headers", "error", "retry_after"),
    [
        (301, None, {"Location": "https://elsewhere.invalid/"}, UpstreamError, None),
        (400, "error_400", {}, UpstreamBadRequest, None),
        (401, "error_401", {}, UpstreamAuthFailed, None),
        (403, "error_403", {}, UpstreamAuthFailed, None),
        (404, "error_404", {}, UpstreamBadRequest, None),
        (408, None, {}, UpstreamTimeout, None),
        (429, "error_429", {"Retry-After": "20"}, RateLimited, 20.0),
        (429, "error_429", {"retry-after-ms": "1500", "Retry-After": "2"}, RateLimited, 1.5),
        (500, "error_500", {}, UpstreamUnavailable, None),
        (503, "error_503", {"Retry-After": "3"}, UpstreamUnavailable, 3.0),
    ],
)
async def test_upstream_statuses_map_to_domain_errors_with_the_upstream_message(
    http: aiohttp.ClientSession,
    op: str,
    status: int,
    payload: str | None,
    headers: dict[str, str],
    error: type[UpstreamError],
    retry_after: float | None,
) -> None:
    document = fixture(f"openai/{payload}.json") if payload else "<html>proxy timeout</html>"
    reply = json_reply(document, status, headers)
    async with fake_upstream({CHAT: reply, EMBED: reply}) as up:
        with pytest.raises(error) as caught:
            await run(op, http, make_target(up.url), {"messages": ASK, "input": "x"})
    assert type(caught.value) is error
    assert (caught.value.upstream_status, caught.value.retry_after) == (status, retry_after)
    assert caught.value.message.startswith(f"openai-main: upstream returned HTTP {status}")
    if payload is None:  # no error object: a generic message, never the body
        assert "<html>" not in caught.value.message
        return
    assert document["error"]["message"] in caught.value.message
    assert caught.value.details.get("param") == document["error"]["param"]  # for a 400


@pytest.mark.parametrize("op", ["chat", "stream", "embed"])
async def test_timeouts_and_refused_connections_are_retryable_errors(
    http: aiohttp.ClientSession, op: str
) -> None:
    async def slow(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1)
        return web.Response()

    async with fake_upstream({CHAT: slow, EMBED: slow}) as up:
        with pytest.raises(UpstreamTimeout, match="did not answer in time"):
            await run(op, http, make_target(up.url, timeout_s=0.2), {"messages": ASK})
    # the server is gone: its port now refuses connections
    with pytest.raises(UpstreamUnavailable, match="cannot reach upstream"):
        await run(op, http, make_target(up.url), {"messages": ASK})


async def stalls(request: web.Request) -> web.StreamResponse:
    """The first event of a stream, then silence."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(fixture("openai/chat_stream.sse").split("\n\n")[0].encode() + b"\n\n")
    await asyncio.sleep(1)
    return response


@pytest.mark.parametrize(
    ("reply", "error", "match", "before"),
    [
        (sse_reply(fixture("openai/chat_stream_error.sse")), UpstreamError, "stream failed", 2),
        (stalls, UpstreamTimeout, "did not answer in time", 1),
    ],
    ids=["error-event", "silence"],
)
async def test_a_stream_that_fails_midway_raises_after_the_chunks_before_it(
    http: aiohttp.ClientSession, reply: Handler, error: type[UpstreamError], match: str, before: int
) -> None:
    received: list[StreamChunk] = []
    async with fake_upstream({CHAT: reply}) as up:
        with pytest.raises(error, match=match) as caught:
            await run("stream", http, make_target(up.url, timeout_s=0.2), {}, received)
    assert len(received) == before
    assert type(caught.value) is error  # an error event is not retried on this provider


async def test_the_key_never_appears_in_raised_errors(http: aiohttp.ClientSession) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}.", "param": KEY}}
    stream = f'data: {{"error": {{"message": "bad key {KEY}"}}}}\n\n'
    routes = {CHAT: json_reply(echo, 401), ("POST", "/v1/stream"): sse_reply(stream)}
    raised: list[UpstreamError] = []
    async with fake_upstream(routes) as up:
        # chat, stream: 401 echoing the key; embed: no route, a plain-text 404; an error event
        for op, path in [("chat", None), ("stream", None), ("embed", None), ("stream", "/stream")]:
            with pytest.raises(UpstreamError) as caught:
                await run(op, http, make_target(up.url, config={"chat_path": path}), {})
            raised.append(caught.value)
    with pytest.raises(UpstreamUnavailable) as unreachable:
        await ADAPTER.chat(http, make_target(up.url), {"messages": ASK})
    raised.append(unreachable.value)
    for error in raised:
        said = "".join(traceback.format_exception(error)) + repr(error) + repr(error.details)
        assert KEY not in said
    assert "Incorrect API key provided: ***" in str(raised[0])
    assert raised[0].details == {"param": "***"}
    assert "bad key ***" in str(raised[3])
