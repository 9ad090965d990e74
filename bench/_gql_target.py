"""Where bench/graphql_queries.py sends its calls: a real ``modelyard serve`` over HTTP
(pinned to core 0, this process to core 1), or the ASGI app in this process."""

from __future__ import annotations

import contextlib
import http.client
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import _stack
import httpx

from modelyard.api.app import create_app
from modelyard.services import Registry
from modelyard.settings import Settings


class Target:
    """The app under test: ``modelyard serve`` over HTTP, or the ASGI app in this process."""

    def __init__(self, key: str) -> None:
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.pid: int | None = None

    async def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        raise NotImplementedError


class Served(Target):
    def __init__(self, key: str, port: int, pid: int) -> None:
        super().__init__(key)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.pid = pid

    async def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        self.conn.request(method, path, body, self.headers)
        reply = self.conn.getresponse()
        data = reply.read()
        if reply.status >= 300:
            raise RuntimeError(f"{method} {path}: {reply.status} {data[:300]!r}")
        return data


class InProcess(Target):
    def __init__(self, key: str, client: httpx.AsyncClient) -> None:
        super().__init__(key)
        self.client = client

    async def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        reply = await self.client.request(method, path, content=body, headers=self.headers)
        if reply.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {reply.status_code} {reply.text[:300]}")
        return reply.content


@contextlib.asynccontextmanager
async def target(
    settings: Settings, key: str, workdir: Path, in_process: bool
) -> AsyncIterator[Target]:
    if in_process:
        registry = Registry.open(settings)
        app = create_app(settings, registry=registry)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                yield InProcess(key, client)
        finally:
            await registry.close()
        return
    port = _stack.free_port()
    command, env = _stack.gateway_command(settings, port, "warning")
    two_cores = len(os.sched_getaffinity(0)) >= 2
    log = workdir / "serve.log"
    try:
        proc = _stack.start_server(command, env, 0, port, log)
    except RuntimeError:
        print(log.read_text()[-3000:], file=sys.stderr)
        raise
    if two_cores:
        os.sched_setaffinity(0, {1})
    try:
        yield Served(key, port, proc.pid)
    finally:
        _stack.stop(proc)


__all__ = ["InProcess", "Served", "Target", "target"]
