"""A real modelyard server on 127.0.0.1 (uvicorn, in this event loop) for end-to-end tests
with the official ``openai`` SDK as the client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from modelyard.api.app import create_app
from modelyard.services import Registry
from modelyard.settings import Settings


@asynccontextmanager
async def running(
    settings: Settings, registry: Registry, tracing: Any = None
) -> AsyncIterator[tuple[str, Any]]:
    """Yield the server's base URL and the app; the server stops on exit. ``tracing``: where
    its spans go (a :class:`modelyard.telemetry.tracing.Tracing`)."""
    app = create_app(settings, registry=registry, tracing=tracing)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        await task  # surfaces the startup error
        raise RuntimeError("the server did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await task
