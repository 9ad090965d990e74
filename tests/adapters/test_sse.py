"""The Server-Sent-Events reader: the same events whatever the read boundaries, every line
ending, multi-line data, comments, event names, and an unterminated last event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from modelyard.adapters import sse
from tests.gateway.upstream import fake_upstream

Event = tuple[str | None, str]


class Reads:
    """A stand-in for ``aiohttp.StreamReader`` whose ``iter_any`` returns the given reads,
    so a test fixes the read boundaries exactly."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self.pieces = list(pieces)

    async def iter_any(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


async def parse(pieces: Iterable[bytes]) -> list[Event]:
    content: Any = Reads(pieces)
    return [event async for event in sse.events(content)]


def bytewise(raw: bytes) -> list[bytes]:
    return [raw[i : i + 1] for i in range(len(raw))]


STREAM = (
    b": a comment, then a keep-alive\n"
    b":\n"
    b"\n"
    b"event: message_start\n"
    b'data: {"type": "message_start"}\n'
    b"\n"
    b"data: first line\n"
    b"data:second line without the space\n"
    b"data:  two spaces keep one\n"
    b"id: 7\n"
    b"retry: 1000\n"
    b"\n"
    b"event: ping\n"  # an event with no data is not dispatched...
    b"\n"
    b"data: caf\xc3\xa9 \xe2\x82\xac\n"  # ...and its name does not leak into the next one
    b"\n"
    b"data\n"
    b"\n"
    b"data: [DONE]\n"
    b"\n"
)
EXPECTED: list[Event] = [
    ("message_start", '{"type": "message_start"}'),
    (None, "first line\nsecond line without the space\n two spaces keep one"),
    (None, "café €"),
    (None, ""),
    (None, "[DONE]"),
]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("split", ["whole", "bytewise"])
async def test_events_are_the_same_for_every_line_ending_and_read_boundary(
    newline: bytes, split: str
) -> None:
    raw = STREAM.replace(b"\n", newline)
    assert await parse(bytewise(raw) if split == "bytewise" else [raw]) == EXPECTED


async def test_every_two_way_split_of_a_crlf_stream_gives_the_same_events() -> None:
    raw = STREAM.replace(b"\n", b"\r\n")
    for cut in range(len(raw) + 1):
        assert await parse([raw[:cut], raw[cut:]] if 0 < cut < len(raw) else [raw]) == EXPECTED


async def test_a_cr_at_the_end_of_one_read_and_an_lf_opening_the_next_end_one_line() -> None:
    assert await parse([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [(None, "a\nb")]


async def test_a_lone_cr_between_reads_is_a_line_end_of_its_own() -> None:
    assert await parse([b"data: a\r", b"\r", b"data: b\r\r"]) == [(None, "a"), (None, "b")]


async def test_the_last_event_is_dispatched_without_its_blank_line() -> None:
    assert await parse([b"data: one\n\ndata: two"]) == [(None, "one"), (None, "two")]
    assert await parse([b"event: end\ndata: x\n"]) == [("end", "x")]
    assert await parse([b": only a comment"]) == []


async def test_a_long_line_is_not_limited_by_the_reader() -> None:
    big = "x" * 1_000_000
    assert await parse([f"data: {big}".encode(), b"\n\n"]) == [(None, big)]


async def test_undecodable_bytes_become_replacement_characters() -> None:
    assert await parse([b"data: \xff\n\n"]) == [(None, "\ufffd")]


async def test_a_real_response_written_byte_by_byte_is_read_whole() -> None:
    raw = STREAM.replace(b"\n", b"\r\n")

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for piece in bytewise(raw):
            await response.write(piece)
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    async with (
        fake_upstream({("GET", "/events"): trickle}) as up,
        aiohttp.ClientSession() as http,
        http.get(f"{up.url}/events") as response,
    ):
        assert [event async for event in sse.events(response.content)] == EXPECTED
