"""An incremental Server-Sent-Events reader over an aiohttp response body.

:func:`events` yields one ``(event, data)`` pair per dispatched event (:func:`batches`
the events of each read together), as the WHATWG
event-stream rules define it: lines end in LF, CRLF or a lone CR (also when the CR and the
LF arrive in different reads); ``:`` starts a comment (keep-alives); one space after a
field's colon is dropped; several ``data`` lines join with LF; a blank line dispatches the
event, and an event without any ``data`` line is not dispatched. ``event`` is ``None``
when the event names none (the spec's ``message``). ``id`` and ``retry`` are ignored:
nothing here reconnects.

Lines are cut from whatever each read returns, not with ``readline``, so a long line (a
large tool call) never meets aiohttp's line limit, and text is decoded per complete line,
so a UTF-8 character split across reads stays whole (undecodable bytes become U+FFFD).
At the end of the body a pending event is dispatched even without its blank line, since
some servers omit it; a consumer parsing ``data`` as JSON skips a truncated one.

The reader never interprets ``data``: ``[DONE]`` and error payloads are the caller's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

CR, LF = b"\r", b"\n"


class _Event:
    """The event being assembled from its field lines; its data stays bytes until it is
    dispatched."""

    __slots__ = ("data", "name")

    def __init__(self) -> None:
        self.name: str | None = None
        self.data: list[bytes] = []

    def line(self, line: bytes) -> tuple[str | None, bytes] | None:
        """Take one line; return the event that a blank line completes."""
        if not line:
            if not self.data:
                self.name = None
                return None
            data = self.data[0] if len(self.data) == 1 else b"\n".join(self.data)
            done = (self.name, data)
            self.name, self.data = None, []
            return done
        if line.startswith(b"data:"):  # the common case first
            self.data.append(line[6:] if line[5:6] == b" " else line[5:])
        elif line[0] != 0x3A:  # ":" starts a comment
            field, _, value = line.partition(b":")
            value = value[1:] if value[:1] == b" " else value
            if field == b"event":
                self.name = value.decode(errors="replace")
            elif field == b"data":  # "data" with no colon: an empty data line
                self.data.append(b"")
        return None


async def events(content: aiohttp.StreamReader) -> AsyncIterator[tuple[str | None, str]]:
    """``(event name or None, data)`` for each event of an ``text/event-stream`` body."""
    async for batch in raw_batches(content):
        for name, data in batch:
            yield name, data.decode(errors="replace")


async def batches(
    content: aiohttp.StreamReader,
) -> AsyncIterator[list[tuple[str | None, str]]]:
    """The events of a body as :func:`events` reads them, a list per read of the body that
    completed any: a relay can write everything one read brought in one write."""
    async for batch in raw_batches(content):
        yield [(name, data.decode(errors="replace")) for name, data in batch]


async def raw_batches(
    content: aiohttp.StreamReader,
) -> AsyncIterator[list[tuple[str | None, bytes]]]:
    """:func:`batches` with each event's data as the bytes that came (lines joined with LF,
    nothing decoded): what a relay forwards unchanged."""
    event = _Event()
    buffer = b""
    skip_lf = False  # the last read ended in CR: an LF opening the next read ends no line
    async for read in content.iter_any():
        buffer += read[1:] if skip_lf and read.startswith(LF) else read
        cut = max(buffer.rfind(LF), buffer.rfind(CR))
        if cut < 0:
            skip_lf = False
            continue
        complete, buffer = buffer[: cut + 1], buffer[cut + 1 :]
        skip_lf = not buffer and complete.endswith(CR)
        batch = []
        for line in complete.splitlines():  # bytes split on LF, CRLF and CR only
            if (done := event.line(line)) is not None:
                batch.append(done)
        if batch:
            yield batch
    if buffer:
        event.line(buffer)
    if (done := event.line(b"")) is not None:
        yield [done]
