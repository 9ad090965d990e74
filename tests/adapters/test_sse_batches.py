"""``sse.batches``: the events of a body grouped by the read that completed them, so a relay
can write what one read brought in one write; ``sse.events`` is the same events, flattened."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import aiohttp
import pytest
from aiohttp.base_protocol import BaseProtocol

from modelyard.adapters import sse
from tests.adapters.test_sse import EXPECTED, STREAM, Reads, bytewise

Event = tuple[str | None, str]


async def batches(pieces: Iterable[bytes]) -> list[list[Event]]:
    content: Any = Reads(pieces)
    return [batch async for batch in sse.batches(content)]


async def test_one_read_holding_several_events_is_one_batch_of_all_of_them() -> None:
    read = b"data: a\n\nevent: named\ndata: b\n\ndata: c1\ndata: c2\n\n"
    assert await batches([read]) == [[(None, "a"), ("named", "b"), (None, "c1\nc2")]]


async def test_an_event_split_across_reads_comes_in_the_batch_of_the_read_that_completes_it() -> (
    None
):
    reads = [
        b"data: a\n\ndata: b",  # completes a; b is still open
        b"\n",  # b's line ends, but no blank line yet: nothing completed
        b"\ndata: c\n\ndata: d\n",  # completes b and c; d is open
        b"\r\n",  # completes d on its own
    ]
    assert await batches(reads) == [
        [(None, "a")],
        [(None, "b"), (None, "c")],
        [(None, "d")],
    ]


@pytest.mark.parametrize(
    "reads",
    [
        [b": keep-alive\n\n", b"data: a\n\n", b":\n\n: ping\n\n"],
        [b"data: a\n\n", b"event: ping\n\n", b"id: 7\nretry: 10\n\n"],  # events without data
        [b"data: a", b"\n", b"", b"\n", b": trailing comment\n"],
    ],
    ids=["comments", "no-data", "partial-and-empty-reads"],
)
async def test_reads_that_complete_no_event_yield_no_batch(reads: list[bytes]) -> None:
    assert await batches(reads) == [[(None, "a")]]


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        ([b"data: a\n\ndata: b"], [[(None, "a")], [(None, "b")]]),
        ([b"data: a\n\ndata: b\n"], [[(None, "a")], [(None, "b")]]),
        ([b"data: a\n\n", b"event: end\n", b"data: b"], [[(None, "a")], [("end", "b")]]),
        ([b"data: only"], [[(None, "only")]]),
        ([b"data: a\n\n: no event after it"], [[(None, "a")]]),
    ],
)
async def test_an_event_left_open_at_the_end_of_the_body_comes_as_a_last_batch(
    reads: list[bytes], expected: list[list[Event]]
) -> None:
    assert await batches(reads) == expected


async def test_an_empty_body_yields_no_batch() -> None:
    assert await batches([]) == []
    assert await batches([b""]) == []


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
async def test_batches_flatten_to_the_events_for_every_read_boundary(newline: bytes) -> None:
    raw = STREAM.replace(b"\n", newline)
    splits = [[raw], bytewise(raw)] + [[raw[:cut], raw[cut:]] for cut in range(1, len(raw))]
    for reads in splits:
        got = await batches(reads)
        assert all(got), "an empty batch was yielded"
        assert [event for batch in got for event in batch] == EXPECTED
        content: Any = Reads(reads)
        assert [event async for event in sse.events(content)] == EXPECTED
    # read whole, the body is one batch; read byte by byte, one event per batch
    assert await batches([raw]) == [EXPECTED]
    assert await batches(bytewise(raw)) == [[event] for event in EXPECTED]


async def test_a_real_stream_reader_gives_one_batch_per_read() -> None:
    """Against aiohttp's own reader: what was fed before a read is read together."""
    loop = asyncio.get_running_loop()
    content = aiohttp.StreamReader(BaseProtocol(loop), 2**16, loop=loop)
    reader = sse.batches(content)
    content.feed_data(b"data: a\n\n")
    content.feed_data(b"data: b\n\ndata: c")  # one read of both pieces: a and b, c still open
    assert await anext(reader) == [(None, "a"), (None, "b")]
    content.feed_data(b"\n\n: keep-alive\n\n")
    assert await anext(reader) == [(None, "c")]
    content.feed_data(b": keep-alive\n\n")  # completes nothing: the reader waits for more
    content.feed_data(b"data: d\n\n")
    assert await anext(reader) == [(None, "d")]
    content.feed_data(b"data: e")
    content.feed_eof()
    assert await anext(reader) == [(None, "e")]
    with pytest.raises(StopAsyncIteration):
        await anext(reader)
