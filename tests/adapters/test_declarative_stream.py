"""The declarative adapter's streams: a configured SSE rule, and the one-call fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from modelyard import tokens
from modelyard.adapters.base import StreamChunk, Usage
from modelyard.adapters.declarative import DeclarativeAdapter
from modelyard.errors import UpstreamError
from modelyard.kinds.declarative_examples import EXAMPLE_GEMINI, EXAMPLE_OPENAI_CHAT
from tests.adapters.declarative_support import (
    ACME,
    ACME_ROUTE,
    GEMINI_ROUTE,
    MESSAGES,
    make_target,
)
from tests.gateway.upstream import fake_upstream, fixture, json_reply, sse_reply

# tests/gateway/upstream.py stores state under a str app key; drop once it uses web.AppKey.


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def collect(chunks: AsyncIterator[StreamChunk]) -> list[StreamChunk]:
    return [chunk async for chunk in chunks]


def deltas(chunks: list[StreamChunk]) -> list[dict[str, Any]]:
    return [c.chunk["choices"][0]["delta"] for c in chunks if c.chunk["choices"]]


async def test_configured_stream_yields_role_deltas_finish_and_reported_usage(
    http: aiohttp.ClientSession,
) -> None:
    routes = {ACME_ROUTE: sse_reply(fixture("declarative/acme_stream.sse"))}
    async with fake_upstream(routes) as upstream:
        target = make_target(upstream.url, ACME)
        chunks = await collect(DeclarativeAdapter().stream(http, target, {"messages": MESSAGES}))
    assert upstream.received[0].body["stream"] is True
    assert deltas(chunks) == [
        {"role": "assistant", "content": ""},
        {"content": "Bon"},
        {"content": "jour"},
        {"content": "!"},
        {},
    ]
    assert chunks[-2].chunk["choices"][0]["finish_reason"] == "length"
    assert {c.chunk["id"] for c in chunks} == {chunks[0].chunk["id"]}
    assert all(c.chunk["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1].chunk["choices"] == []
    assert chunks[-1].usage == Usage(21, 3)
    assert [c.usage for c in chunks[:-1]] == [None] * 5


async def test_openai_style_stream_stops_at_done_and_reads_usage(
    http: aiohttp.ClientSession,
) -> None:
    sse = fixture("declarative/openai_stream.sse")
    async with fake_upstream({("POST", "/v1/chat/completions"): sse_reply(sse)}) as upstream:
        target = make_target(upstream.url, EXAMPLE_OPENAI_CHAT)
        chunks = await collect(DeclarativeAdapter().stream(http, target, {"messages": MESSAGES}))
    assert "".join(d.get("content", "") for d in deltas(chunks)) == "Hello there"
    assert chunks[-2].chunk["choices"][0]["finish_reason"] == "length"
    assert chunks[-1].usage == Usage(9, 2)


async def test_stream_usage_is_estimated_from_the_text_when_not_reported(
    http: aiohttp.ClientSession,
) -> None:
    sse = 'data: {"delta": {"text": "Hi"}}\n\ndata: {"delta": {"text": " you"}}\n\ndata: END\n\n'
    async with fake_upstream({ACME_ROUTE: sse_reply(sse)}) as upstream:
        target = make_target(upstream.url, ACME)
        chunks = await collect(DeclarativeAdapter().stream(http, target, {"messages": MESSAGES}))
    expected = Usage(
        tokens.estimate_messages(MESSAGES), tokens.estimate_text("Hi you"), estimated=True
    )
    assert chunks[-1].usage == expected


async def test_without_a_streaming_rule_stream_replays_one_plain_call(
    http: aiohttp.ClientSession,
) -> None:
    routes = {GEMINI_ROUTE: json_reply(fixture("declarative/gemini_generate.json"))}
    async with fake_upstream(routes) as upstream:
        target = make_target(upstream.url, EXAMPLE_GEMINI)
        chunks = await collect(DeclarativeAdapter().stream(http, target, {"messages": MESSAGES}))
    [sent] = upstream.received
    assert "stream" not in sent.body
    assert deltas(chunks) == [
        {"role": "assistant", "content": ""},
        {"content": "A large language model predicts the next token."},
        {},
    ]
    assert chunks[2].chunk["choices"][0]["finish_reason"] == "length"
    assert chunks[3].usage == Usage(8, 9)


async def test_an_error_event_mid_stream_ends_it_with_an_upstream_error(
    http: aiohttp.ClientSession,
) -> None:
    sse = 'data: {"delta": {"text": "Hi"}}\n\ndata: {"problem": {"detail": "overloaded"}}\n\n'
    async with fake_upstream({ACME_ROUTE: sse_reply(sse)}) as upstream:
        stream = DeclarativeAdapter().stream(
            http, make_target(upstream.url, ACME), {"messages": MESSAGES}
        )
        seen = [await stream.__anext__(), await stream.__anext__()]
        with pytest.raises(UpstreamError, match="overloaded"):
            await stream.__anext__()
    assert deltas(seen) == [{"role": "assistant", "content": ""}, {"content": "Hi"}]
