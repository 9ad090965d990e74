"""The OpenAI adapter's stream marks the chunks that came in one read of the upstream's body
(``StreamChunk.more`` on all of them but the last), so a relay may write them together; an
error event in the middle of a read still lets the chunks before it through, then raises the
domain error; ``[DONE]`` ends the stream wherever it is in a read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from modelyard.adapters.base import StreamChunk, Target, Usage
from modelyard.adapters.openai import ADAPTER
from modelyard.errors import RateLimited, UpstreamError, UpstreamUnavailable
from tests.gateway.paced import DONE, Paced, chunk, event, usage_chunk, whole
from tests.gateway.upstream import fake_upstream

CHAT = ("POST", "/v1/chat/completions")
ASK = {"messages": [{"role": "user", "content": "hi"}]}


def make_target(url: str, **overrides: Any) -> Target:
    """An OpenAI provider at a local fake upstream."""
    fields: dict[str, Any] = {
        "provider_id": "p1",
        "provider_name": "openai-main",
        "kind": "openai",
        "base_url": f"{url}/v1",
        "api_key": "sk-test-key",
        "model_id": "gpt-4o-mini",
    }
    return Target(**(fields | overrides))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def read_paced(
    http: aiohttp.ClientSession, paced: Paced, into: list[StreamChunk] | None = None
) -> list[StreamChunk]:
    """The stream's chunks; the upstream writes its next piece once the last chunk of the
    previous one (``more`` unset) is in, so every piece is one read."""
    got = [] if into is None else into
    async with fake_upstream({CHAT: paced.handler}) as up:
        try:
            async with asyncio.timeout(10):  # a chunk wrongly marked ``more`` would wait forever
                async for item in ADAPTER.stream(http, make_target(up.url), ASK):
                    got.append(item)
                    if not item.more:
                        paced.go_on()
        finally:
            paced.release()
    return got


async def test_all_chunks_of_one_read_but_the_last_are_marked_more(
    http: aiohttp.ClientSession,
) -> None:
    first = [chunk(""), chunk("Hel"), chunk("lo")]
    second = [chunk(" there")]
    third = [chunk(finish="stop"), usage_chunk(12, 3)]
    paced = Paced(
        b"".join(map(event, first)),
        b"".join(map(event, second)),
        b"".join(map(event, third)) + DONE,
    )
    got = await read_paced(http, paced)
    assert [item.chunk for item in got] == first + second + third
    assert [item.more for item in got] == [True, True, False, False, True, False]
    assert [item.usage for item in got] == [None] * 5 + [Usage(12, 3)]
    assert paced.written == 3


async def test_a_whole_stream_in_one_read_is_one_run_of_more_ending_at_its_last_chunk(
    http: aiohttp.ClientSession,
) -> None:
    documents = [chunk("a"), chunk("b"), chunk(finish="stop"), usage_chunk(5, 2)]
    reply = whole(*map(event, documents), DONE)
    async with fake_upstream({CHAT: reply}) as up:
        got = [item async for item in ADAPTER.stream(http, make_target(up.url), ASK)]
    assert [item.chunk for item in got] == documents
    assert [item.more for item in got] == [True, True, True, False]


@pytest.mark.parametrize(
    "broken",
    [b"data: {not json\n\n", b"data: [1, 2]\n\n", b'data: "text"\n\n'],
    ids=["not-json", "array", "string"],
)
async def test_a_skipped_event_at_the_end_of_a_read_leaves_no_chunk_marked_more(
    http: aiohttp.ClientSession, broken: bytes
) -> None:
    paced = Paced(
        event(chunk("a")) + broken + event(chunk("b")) + broken,
        event(chunk("c")) + DONE,
    )
    got = await read_paced(http, paced)
    assert [(item.chunk, item.more) for item in got] == [
        (chunk("a"), True),
        (chunk("b"), False),
        (chunk("c"), False),
    ]


@pytest.mark.parametrize(
    ("error", "raised", "status", "says"),
    [
        ({"message": "overloaded", "code": 503}, UpstreamUnavailable, 503, "HTTP 503"),
        ({"message": "slow down", "code": 429}, RateLimited, 429, "HTTP 429"),
        ({"message": "went wrong", "code": "server_error"}, UpstreamError, None, "stream failed"),
        ({"message": "went wrong", "code": None}, UpstreamError, None, "stream failed"),
    ],
    ids=["503", "429", "string-code", "no-code"],
)
async def test_an_error_event_mid_read_raises_after_the_chunks_before_it(
    http: aiohttp.ClientSession,
    error: dict[str, Any],
    raised: type[UpstreamError],
    status: int | None,
    says: str,
) -> None:
    paced = Paced(
        event(chunk("one")),
        event(chunk("two")) + event(chunk("three")) + event({"error": error}) + event(chunk("x")),
        event(chunk("never")) + DONE,
    )
    got: list[StreamChunk] = []
    with pytest.raises(UpstreamError) as caught:
        await read_paced(http, paced, got)
    assert type(caught.value) is raised
    assert caught.value.upstream_status == status
    assert caught.value.message.startswith("openai-main: upstream ")
    assert says in caught.value.message
    assert str(error["message"]) in caught.value.message
    assert [(item.chunk, item.more) for item in got] == [
        (chunk("one"), False),
        (chunk("two"), True),
        (chunk("three"), False),  # the last before the error: nothing more is coming
    ]


async def test_an_error_event_opening_a_read_raises_with_nothing_more_yielded(
    http: aiohttp.ClientSession,
) -> None:
    paced = Paced(
        event(chunk("one")) + event(chunk("two")),
        event({"error": {"message": "gone", "code": 500}}) + event(chunk("x")),
    )
    got: list[StreamChunk] = []
    with pytest.raises(UpstreamUnavailable, match="HTTP 500: gone"):
        await read_paced(http, paced, got)
    assert [(item.chunk, item.more) for item in got] == [
        (chunk("one"), True),
        (chunk("two"), False),
    ]


async def test_done_mid_read_ends_the_stream_and_what_follows_it_is_never_read(
    http: aiohttp.ClientSession,
) -> None:
    paced = Paced(
        event(chunk("a")) + event(chunk("b")) + DONE + event(chunk("after")),
        event(chunk("later")),
    )
    async with fake_upstream({CHAT: paced.handler}) as up:
        try:  # the next piece is never let go: a stream that did not end would wait forever
            async with asyncio.timeout(10):
                got = [item async for item in ADAPTER.stream(http, make_target(up.url), ASK)]
        finally:
            paced.release()
    assert [(item.chunk, item.more) for item in got] == [(chunk("a"), True), (chunk("b"), False)]


async def test_an_event_whose_json_has_whitespace_around_it_is_still_a_chunk(
    http: aiohttp.ClientSession,
) -> None:
    document = chunk("spaced")
    body = orjson.dumps(document)
    reply = whole(
        b"data:  " + body + b"\n\n",
        b"data: " + body + b" \n\n",
        b"data: " + body + b"\ndata:\n\n",
        DONE,
    )
    async with fake_upstream({CHAT: reply}) as up:
        got = [item async for item in ADAPTER.stream(http, make_target(up.url), ASK)]
    assert [item.chunk for item in got] == [document] * 3  # JSON may have whitespace around


async def test_an_event_between_braces_that_is_not_json_is_skipped(
    http: aiohttp.ClientSession,
) -> None:
    reply = whole(event(chunk("a")), b"data: {not json}\n\n", event(chunk("b")), DONE)
    async with fake_upstream({CHAT: reply}) as up:
        got = [item async for item in ADAPTER.stream(http, make_target(up.url), ASK)]
    assert [item.chunk for item in got] == [chunk("a"), chunk("b")]
    assert all(item.raw != b"{not json}" for item in got)
