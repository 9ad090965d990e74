"""An upstream event stream whose read boundaries a test decides: each piece is one write,
and the next one is written only when the test says so, so every piece reaches the reader
as a read of its own (nothing waits on a clock)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

DONE = b"data: [DONE]\n\n"


def event(document: Any) -> bytes:
    """One SSE event carrying ``document`` as JSON."""
    return b"data: " + orjson.dumps(document) + b"\n\n"


def chunk(content: str | None = None, *, finish: str | None = None, **extra: Any) -> Any:
    """An OpenAI ``chat.completion.chunk`` with one choice."""
    delta = {} if content is None else {"content": content}
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {
        "id": "chatcmpl-paced",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini",
        "choices": [choice],
        **extra,
    }


def usage_chunk(prompt: int, completion: int) -> Any:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    return chunk() | {"choices": [], "usage": usage}


class Paced:
    """``handler`` writes ``pieces[0]``, then each next piece after one more :meth:`go_on`;
    :meth:`release` lets it write everything left (call it before the upstream stops)."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = list(pieces)
        self.allowed = 1
        self.written = 0
        self._moved = asyncio.Event()

    def go_on(self) -> None:
        self.allowed += 1
        self._moved.set()

    def release(self) -> None:
        self.allowed = len(self.pieces)
        self._moved.set()

    async def handler(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for piece in self.pieces:
            while self.written >= self.allowed:
                self._moved.clear()
                await self._moved.wait()
            await response.write(piece)
            self.written += 1
        await response.write_eof()
        return response


def whole(*pieces: bytes) -> Any:
    """A handler that answers the whole event stream in one write."""
    body = b"".join(pieces)

    async def handler(_: web.Request) -> web.StreamResponse:
        return web.Response(body=body, headers={"Content-Type": "text/event-stream"})

    return handler
