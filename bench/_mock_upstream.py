"""A fixed-answer OpenAI-compatible upstream for the gateway benchmark.

``POST .../chat/completions`` answers every request with the same ``chat.completion`` JSON,
or, when the body asks for ``"stream": true``, with the same Server-Sent-Events stream
(three content deltas, a finish chunk, a usage chunk, ``data: [DONE]``) in chunked transfer
encoding, all events in one write. Any other path gets a 404. HTTP/1.1 keep-alive, no
``Expect``/pipelining subtleties beyond what the gateway's aiohttp client and the
benchmark's load generator send.

It is a bare ``asyncio.Protocol`` on uvloop, so that it costs the core it shares with the
load generator as little as possible (a few tens of microseconds per request). Run alone:
``.venv/bin/python bench/_mock_upstream.py --port 4200``; it prints ``port <n>`` once it
listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import cast

import orjson
import uvloop

MODEL = "bench-model"
TEXT = ["Hello", " from", " the mock."]
USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}


def _completion() -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(TEXT)},
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
    )


def _chunk(delta: dict[str, str], finish: str | None, usage: bool = False) -> dict[str, object]:
    choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
    chunk: dict[str, object] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
        "choices": choices,
    }
    if usage:
        chunk["usage"] = USAGE
    return chunk


def _events() -> bytes:
    chunks = [_chunk({"role": "assistant", "content": TEXT[0]}, None)]
    chunks += [_chunk({"content": t}, None) for t in TEXT[1:]]
    chunks += [_chunk({}, "stop"), _chunk({}, None, usage=True)]
    events = [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]
    return b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"


def responses() -> tuple[bytes, bytes, bytes]:
    """The three fixed replies: JSON, SSE stream, 404."""
    body = _completion()
    plain = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    streamed = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\n\r\n" + _events()
    )
    missing = b'{"error": {"message": "not found", "type": "invalid_request_error"}}'
    not_found = (
        b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(missing), missing)
    )
    return plain, streamed, not_found


PLAIN, STREAMED, NOT_FOUND = responses()


class MockProtocol(asyncio.Protocol):
    __slots__ = ("buffer", "transport")

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = self.buffer[end + 4 : total]
            self.buffer = self.buffer[total:]
            assert self.transport is not None
            if not head.split(b" ", 2)[1].endswith(b"/chat/completions"):
                self.transport.write(NOT_FOUND)
            elif b'"stream":true' in body:
                self.transport.write(STREAMED)
            else:
                self.transport.write(PLAIN)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(MockProtocol, "127.0.0.1", port, backlog=1024)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="fixed-answer OpenAI-compatible upstream")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    with (
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
        contextlib.suppress(KeyboardInterrupt),
    ):
        runner.run(serve(args.port))


if __name__ == "__main__":
    main()
