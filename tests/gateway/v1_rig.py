"""A modelyard server in front of one fake OpenAI upstream, and a way to drive its ``/v1``
handler as an ASGI server would: every message the app sends is kept in order (so a test can
count the writes of a stream), and the client can go away at a moment the test picks.

Every usage row the gateway hands its recorder is kept too (``Rig.records``): the database
keeps one row per request id, so only the recorder sees a call settled twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy import select

from modelyard.db.tables import UsageEvent
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from modelyard.usage.record import UsageRecord
from tests.gateway.server import running
from tests.gateway.upstream import Handler, Upstream, fake_upstream

MODEL = "gpt-4o-mini"
PROVIDER = "openai-up"
PRICE = {"input_per_mtok": "2", "output_per_mtok": "8"}
RETRY = {"max_attempts": 2, "base_delay_ms": 1, "max_delay_ms": 5, "jitter": False}
CHAT = ("POST", "/v1/chat/completions")
EMBED = ("POST", "/v1/embeddings")
COMPLETE = ("POST", "/v1/completions")


@dataclass
class Exchange:
    """One request to the app; ``sent`` holds what the app sent, in order."""

    app: Any
    scope: dict[str, Any]
    body: bytes
    sent: list[dict[str, Any]] = field(default_factory=list)
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    _asked: bool = False
    _queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self._queue.put_nowait(message)

    def run(self) -> asyncio.Task[None]:
        return asyncio.create_task(self.app(self.scope, self.receive, self.send))

    async def next(self) -> dict[str, Any]:
        """The next message the app sends (a guard, not a measure: nothing should wait)."""
        return await asyncio.wait_for(self._queue.get(), 10)

    @property
    def start(self) -> dict[str, Any]:
        [start] = [m for m in self.sent if m["type"] == "http.response.start"]
        return start

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] == "http.response.body"]

    @property
    def content(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.bodies)


@dataclass
class Rig:
    app: Any
    url: str
    key: str
    registry: Registry
    upstream: Upstream
    routes: dict[tuple[str, str], Handler]
    records: list[UsageRecord]

    def reply(self, route: tuple[str, str], handler: Handler) -> None:
        self.routes[route] = handler

    def exchange(self, path: str, body: Any) -> Exchange:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [
                (b"authorization", f"Bearer {self.key}".encode()),
                (b"content-type", b"application/json"),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        return Exchange(self.app, scope, orjson.dumps(body))

    async def call(self, path: str, body: Any) -> Exchange:
        exchange = self.exchange(path, body)
        await asyncio.wait_for(exchange.run(), 10)
        return exchange

    async def usage(self) -> list[Any]:
        """The usage rows in the database, once the recorder has written what it holds."""
        await self.app.state.gateway.recorder.flush()
        async with self.registry.db.engine.connect() as conn:
            return list(await conn.execute(select(UsageEvent.__table__)))


@asynccontextmanager
async def openai_rig(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    """A running server whose one model is served by a fake OpenAI upstream; a test picks
    the upstream's answer with :meth:`Rig.reply`."""
    await registry.settings.set(admin, "gateway.retry", RETRY)
    routes: dict[tuple[str, str], Handler] = {}

    def route(key: tuple[str, str]) -> Handler:
        async def dispatch(request: web.Request) -> web.StreamResponse:
            return await routes[key](request)

        return dispatch

    routed = {CHAT: route(CHAT), EMBED: route(EMBED), COMPLETE: route(COMPLETE)}
    async with fake_upstream(routed) as upstream:
        provider = await registry.providers.create(
            admin,
            {"name": PROVIDER, "kind": "openai", "base_url": f"{upstream.url}/v1", "api_key": "k"},
        )
        await registry.models.create(
            admin,
            {
                "provider_id": provider.id,
                "model_id": MODEL,
                "capabilities": ["text", "streaming", "embedding"],
                "price": PRICE,
            },
        )
        user = await registry.users.create(admin, UserCreate(email="app@example.com"))
        key = (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key
        local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
        async with running(local, registry) as (url, app):
            records: list[UsageRecord] = []
            recorder = app.state.gateway.recorder
            record = recorder.record

            def keep(row: UsageRecord) -> None:
                records.append(row)
                record(row)

            recorder.record = keep
            yield Rig(app, url, key, registry, upstream, routes, records)
