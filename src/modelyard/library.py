"""modelyard in process, without HTTP, for desktop apps and scripts (seed 002):

    async with modelyard.open("sqlite+aiosqlite:///app.db") as yard:
        reply = await yard.chat([{"role": "user", "content": "Hello"}], model="gpt-4o")
        async for chunk in yard.stream([{"role": "user", "content": "Hi"}]):
            ...

The same pipeline as the HTTP endpoint runs: resolution, limits, retries, fallbacks, usage.
On an empty database the first open bootstraps it (schema, master key file, an admin). Calls
act as the user behind ``api_key`` or, without one, as the first active admin (the local
user of a single-user app). ``yard.registry`` manages providers, models and keys as
``yard.actor``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select

from modelyard import ids
from modelyard.bootstrap import bootstrap
from modelyard.db.tables import User
from modelyard.errors import Unauthenticated
from modelyard.faults import as_error
from modelyard.gateway.intake import chat_call, embedding_call
from modelyard.gateway.service import Gateway, make_gateway
from modelyard.gateway.snapshot import KeyEntry
from modelyard.registry.actors import Actor
from modelyard.registry.scopes import SCOPES
from modelyard.services import Registry
from modelyard.settings import Settings


class Yard:
    def __init__(self, registry: Registry, gateway: Gateway, key: KeyEntry, actor: Actor):
        self.registry = registry
        self.gateway = gateway
        self.key = key
        self.actor = actor
        self.admin_key: str | None = None

    async def chat(
        self, messages: list[dict[str, Any]], *, model: str | None = None, **params: Any
    ) -> dict[str, Any]:
        """One chat completion, as OpenAI's ``chat.completion`` object."""
        body = {"messages": messages, "model": model, **params, "stream": False}
        snap = await self._snapshot()
        call = chat_call(self.gateway, snap, self.key, ids.request_id(), body)
        return (await call.chat()).body

    async def stream(
        self, messages: list[dict[str, Any]], *, model: str | None = None, **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """The completion as OpenAI ``chat.completion.chunk`` objects (usage on the last)."""
        body = {"messages": messages, "model": model, **params, "stream": True}
        snap = await self._snapshot()
        stream = await chat_call(self.gateway, snap, self.key, ids.request_id(), body).stream()
        status, code = "aborted", None
        try:
            async for item in stream.chunks():
                yield item.chunk
            status = "ok"
        except Exception as exc:  # the provider failed mid-stream, or a fault
            status, code = "error", as_error(exc).code
            raise
        finally:
            try:
                await stream.close()
            finally:
                stream.finish(status, code)

    async def embed(self, input: str | list[str], *, model: str | None = None) -> dict[str, Any]:
        body = {"input": input, "model": model}
        snap = await self._snapshot()
        call = embedding_call(self.gateway, snap, self.key, ids.request_id(), body)
        return (await call.embed()).body

    async def _snapshot(self) -> Any:
        await self.gateway.holder.refresh()  # in process, read your own writes at once
        return self.gateway.snapshot()


@asynccontextmanager
async def open(  # the entry point reads as modelyard.open(...)
    database_url: str | None = None,
    *,
    api_key: str | None = None,
    settings: Settings | None = None,
    bootstrap_empty: bool = True,
) -> AsyncIterator[Yard]:
    """Open the registry and start the gateway in this process. On an empty database
    (``bootstrap_empty``) the first admin is created; their API key is then on
    ``yard.admin_key``, the one time it exists in plaintext."""
    settings = settings or (Settings(database_url=database_url) if database_url else Settings())
    registry = Registry.open(settings)
    gateway = make_gateway(registry.db, settings)
    try:
        first = None
        if bootstrap_empty:
            first = await bootstrap(settings, registry, migrate=settings.auto_migrate)
        await gateway.start()
        key, actor = await _identity(registry, gateway, api_key)
        yard = Yard(registry, gateway, key, actor)
        yard.admin_key = first.admin_key if first else None
        yield yard
    finally:
        await gateway.stop()
        await registry.close()


async def _identity(
    registry: Registry, gateway: Gateway, api_key: str | None
) -> tuple[KeyEntry, Actor]:
    if api_key is not None:
        actor = await registry.keys.authenticate(api_key)
        return gateway.snapshot().authenticate(api_key, registry.db.clock()), actor
    async with registry.db.read(Actor.operator("library")) as tx:
        admin = await tx.session.scalar(
            select(User)
            .where(User.role == "admin", User.status == "active", User.deleted_at.is_(None))
            .order_by(User.created_at)
            .limit(1)
        )
    if admin is None:
        raise Unauthenticated("no active admin to act as; run `modelyard init` or pass api_key=")
    key = KeyEntry(None, admin.id, admin.role, frozenset(SCOPES), None)
    return key, Actor.user(admin.id, admin.role, admin.email, frozenset(SCOPES))
