"""Local fake upstreams for gateway tests: a real HTTP server on 127.0.0.1 that records what
it received and answers with what a test tells it to (recorded vendor payloads, failures,
slow or streamed replies)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

FIXTURES = Path(__file__).parent.parent / "fixtures"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def fixture(path: str) -> Any:
    """A recorded payload under tests/fixtures/ (JSON, or raw text for .sse/.txt)."""
    raw = (FIXTURES / path).read_bytes()
    return orjson.loads(raw) if path.endswith(".json") else raw.decode()


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Upstream:
    url: str
    received: list[Received] = field(default_factory=list)


UPSTREAM = web.AppKey("upstream", Upstream)


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    async def handler(_: web.Request) -> web.StreamResponse:
        return web.Response(
            body=orjson.dumps(payload),
            status=status,
            content_type="application/json",
            headers=headers,
        )

    return handler


def sse_reply(text: str, content_type: str = "text/event-stream") -> Handler:
    """Send a recorded event stream, event by event (split on blank lines)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        for event in text.split("\n\n"):
            if event.strip():
                await response.write((event.strip("\n") + "\n\n").encode())
        await response.write_eof()
        return response

    return handler


@asynccontextmanager
async def fake_upstream(routes: dict[tuple[str, str], Handler]) -> AsyncIterator[Upstream]:
    """Serve ``{(METHOD, path): handler}``; every request is recorded on ``upstream.received``
    (a handler may also read ``request.app[UPSTREAM]``)."""
    app = web.Application()
    state = Upstream(url="")
    app[UPSTREAM] = state

    def recording(handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            raw = await request.read()
            try:
                body: Any = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                body = raw.decode(errors="replace")
            state.received.append(
                Received(
                    request.method, request.path, dict(request.query), dict(request.headers), body
                )
            )
            return await handler(request)

        return wrapped

    for (method, path), handler in routes.items():
        app.router.add_route(method, path, recording(handler))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.url = str(server.make_url("")).rstrip("/")
    try:
        yield state
    finally:
        await server.close()
