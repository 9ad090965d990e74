"""The benchmark's load generator: N keep-alive HTTP/1.1 connections, each sending its next
request the moment the previous response ends (closed loop, no pipelining).

A bare ``asyncio.Protocol`` (run it on uvloop) that parses just what it needs: the status
line, ``content-length`` or chunked framing, and the gateway's ``x-modelyard-overhead-ms``
header. It costs roughly 10-20 microseconds of CPU per request, about a third of what an
aiohttp client costs, so one core drives the gateway's one core without being the limit (the
benchmark prints this process's CPU so the reader can check). Latency is taken from just
before the request is written to the moment the last byte of the response is read; time to
first token is the moment the first chunk carrying an SSE ``data:`` line arrives.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import cast

OVERHEAD = b"\r\nx-modelyard-overhead-ms:"


@dataclass
class Stats:
    """What one run measured; latency lists fill only while ``recording`` is on."""

    latencies: list[float] = field(default_factory=list)  # seconds
    ttfts: list[float] = field(default_factory=list)  # seconds, streamed replies only
    overheads: list[float] = field(default_factory=list)  # ms, as the gateway reported them
    statuses: Counter[int] = field(default_factory=Counter)
    done: int = 0  # responses completed, recording or not
    errors: int = 0  # non-200 replies, dropped connections, requests stuck at the end


def request(host: str, port: int, path: str, body: bytes, token: str | None) -> bytes:
    auth = f"authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\n{auth}"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Client(asyncio.Protocol):
    """One connection; cycles through ``requests`` (e.g. alternating JSON and stream)."""

    def __init__(self, load: Load, requests: list[bytes]) -> None:
        self.load, self.requests, self.next = load, requests, 0
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.busy = False
        self._reset()

    def _reset(self) -> None:
        self.started = 0.0
        self.status = 0
        self.head_done = False
        self.chunked = False
        self.length = 0
        self.ttft: float | None = None
        self.overhead: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def send(self) -> None:
        assert self.transport is not None
        payload = self.requests[self.next]
        self.next = (self.next + 1) % len(self.requests)
        self._reset()
        self.busy = True
        self.started = time.perf_counter()
        self.transport.write(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.busy:
            self.busy = False
            self.load.stats.errors += 1
        self.transport = None
        self.load.idle(self)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer = self.buffer + data if self.buffer else data
        if not self.head_done and not self._head():
            return
        if self.chunked:
            complete = self._chunks(now)
        else:
            complete = len(self.buffer) >= self.length
            if complete:
                self.buffer = self.buffer[self.length :]
        if complete:
            self._finish(now)

    def _head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = self.buffer[:end].lower()
        self.buffer = self.buffer[end + 4 :]
        self.head_done = True
        self.status = int(head[9:12])
        self.chunked = b"\r\ntransfer-encoding: chunked" in head
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            stop = head.find(b"\r\n", at + 2)
            self.length = int(head[at + 17 : stop if stop >= 0 else len(head)])
        at = head.find(OVERHEAD)
        if at >= 0:
            stop = head.find(b"\r\n", at + 2)
            self.overhead = float(head[at + len(OVERHEAD) : stop if stop >= 0 else len(head)])
        return True

    def _chunks(self, now: float) -> bool:
        """Consume whole chunks; True once the terminating zero-size chunk is read."""
        buffer = self.buffer
        while True:
            eol = buffer.find(b"\r\n")
            if eol < 0:
                break
            size = int(buffer[:eol].split(b";", 1)[0], 16)
            end = eol + 2 + size + 2
            if len(buffer) < end:
                break
            if size == 0:
                self.buffer = buffer[end:]
                return True
            if self.ttft is None and b"data:" in buffer[eol + 2 : end]:
                self.ttft = now - self.started
            buffer = buffer[end:]
        self.buffer = buffer
        return False

    def _finish(self, now: float) -> None:
        self.busy = False
        stats = self.load.stats
        stats.done += 1
        if self.status != 200:
            stats.errors += 1
        if self.load.recording:
            stats.statuses[self.status] += 1
            stats.latencies.append(now - self.started)
            if self.ttft is not None:
                stats.ttfts.append(self.ttft)
            if self.overhead is not None:
                stats.overheads.append(self.overhead)
        if self.load.running and (self.load.limit is None or stats.done < self.load.limit):
            self.send()
        else:
            self.load.idle(self)


class Load:
    """``connections`` clients against one address; ``start``, measure, ``stop``."""

    def __init__(
        self,
        host: str,
        port: int,
        requests: list[bytes],
        connections: int,
        limit: int | None = None,
    ) -> None:
        self.host, self.port, self.requests = host, port, requests
        self.connections = connections
        self.limit = limit  # stop sending after this many responses (RSS mode)
        self.stats = Stats()
        self.clients: list[Client] = []
        self.running = False
        self.recording = False
        self._idle: asyncio.Event | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        self.running = True
        for index in range(self.connections):
            # stagger the request mix so that every connection does not send the same kind
            rotated = (
                self.requests[index % len(self.requests) :]
                + self.requests[: index % len(self.requests)]
            )
            _, client = await loop.create_connection(
                lambda r=rotated: Client(self, r),  # type: ignore[misc]
                self.host,
                self.port,
            )
            self.clients.append(client)
        for client in self.clients:
            client.send()

    def idle(self, _client: Client) -> None:
        if self._idle is not None and not any(c.busy for c in self.clients):
            self._idle.set()

    def in_flight(self) -> int:
        return sum(c.busy for c in self.clients)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop sending, let the requests in flight finish, close; stuck ones are errors."""
        self.running = self.recording = False
        assert self._idle is not None
        if any(c.busy for c in self.clients):
            try:
                await asyncio.wait_for(self._idle.wait(), timeout_s)
            except TimeoutError:
                self.stats.errors += self.in_flight()
        for client in self.clients:
            client.busy = False
            if client.transport is not None:
                client.transport.close()
        await asyncio.sleep(0)
