"""Support for tests/gateway/test_e2e_messages.py: a modelyard server with one model served by
either an Anthropic upstream (the Messages API passed through) or an OpenAI-compatible one
(translated), a local fake of each, and the official ``anthropic`` SDK as the client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anthropic
from sqlalchemy import func, select

from modelyard.billing.credits import GrantCreate
from modelyard.db.tables import CreditEntry, UsageEvent
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running
from tests.gateway.upstream import Handler, Received, Upstream, fake_upstream

KEY = "sk-upstream-planted-secret-4b1d9e"
MODEL = "claude-sonnet-4-5"
PRICE = {
    "input_per_mtok": "3",
    "output_per_mtok": "15",
    "cached_input_per_mtok": "0.3",
    "cache_write_per_mtok": "3.75",
}
GRANT = Decimal(10)
FAST_RETRY = {"max_attempts": 2, "base_delay_ms": 1, "max_delay_ms": 5, "jitter": False}
PATHS = {
    "anthropic": ("POST", "/v1/messages"),
    "openai": ("POST", "/v1/chat/completions"),
    "count": ("POST", "/v1/messages/count_tokens"),
}


def cost(uncached: int, read: int, written: int, output: int) -> Decimal:
    """What the rig's price charges for these tokens, exactly."""
    price = {k: Decimal(v) for k, v in PRICE.items()}
    return (
        uncached * price["input_per_mtok"]
        + read * price["cached_input_per_mtok"]
        + written * price["cache_write_per_mtok"]
        + output * price["output_per_mtok"]
    ) / 1_000_000


@dataclass
class Replies:
    """Handlers per route, used in order; the last one repeats."""

    queues: dict[str, list[Handler]] = field(default_factory=dict)

    def handler(self, route: str) -> Handler:
        async def handle(request: Any) -> Any:
            queue = self.queues.get(route) or []
            assert queue, f"no reply set for {route}"
            reply = queue.pop(0) if len(queue) > 1 else queue[0]
            return await reply(request)

        return handle


@dataclass
class Rig:
    kind: str  # the upstream: "anthropic" or "openai"
    settings: Settings
    registry: Registry
    caller_key: str
    user_id: uuid.UUID
    upstream: Upstream
    replies: Replies
    model_id: uuid.UUID
    app: Any = None

    def reply(self, *handlers: Handler, route: str | None = None) -> None:
        self.replies.queues[route or self.kind] = list(handlers)

    def sent(self, route: str | None = None) -> list[Received]:
        """What the upstream received on ``route`` (the rig's kind unless said)."""
        path = PATHS[route or self.kind][1]
        return [r for r in self.upstream.received if r.path == path]

    @asynccontextmanager
    async def client(self, key: str | None = None) -> AsyncIterator[anthropic.AsyncAnthropic]:
        async with running(self.settings, self.registry) as (url, app):
            self.app = app
            client = anthropic.AsyncAnthropic(
                base_url=url, api_key=key or self.caller_key, max_retries=0
            )
            try:
                yield client
            finally:
                await client.close()

    async def usage(self) -> list[Any]:
        """The usage rows, oldest first (read after :meth:`client` exited)."""
        async with self.registry.db.engine.connect() as conn:
            rows = await conn.execute(select(UsageEvent.__table__))
            return sorted(rows, key=lambda r: r.occurred_at)

    async def spent(self) -> Decimal:
        """Credits spent from the grant (read after :meth:`client` exited)."""
        async with self.registry.db.engine.connect() as conn:
            total = await conn.scalar(
                select(func.sum(CreditEntry.amount)).where(CreditEntry.user_id == self.user_id)
            )
        return GRANT - Decimal(total or 0)


BACKUP = "backup-model"


async def add_backup(rig: Rig, admin: Actor) -> None:
    """A provider of the other kind on the same fake, its ``backup-model`` the model's
    fallback."""
    url = rig.upstream.url
    if rig.kind == "anthropic":
        spec = {"name": "compat", "kind": "openai_compatible", "base_url": f"{url}/v1"}
    else:
        spec = {"name": "claude", "kind": "anthropic", "base_url": url}
    provider = await rig.registry.providers.create(admin, {**spec, "api_key": KEY})
    await rig.registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": BACKUP,
            "capabilities": ["text", "streaming", "vision", "function_calling"],
            "price": PRICE,
        },
    )
    fallbacks = [f"{spec['name']}/{BACKUP}"]
    await rig.registry.models.update(admin, rig.model_id, {"fallbacks": fallbacks})


@asynccontextmanager
async def messages_rig(
    kind: str, settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    await registry.settings.set(admin, "gateway.retry", FAST_RETRY)
    replies = Replies()
    routes = {PATHS[name]: replies.handler(name) for name in PATHS}
    async with fake_upstream(routes) as upstream:
        if kind == "anthropic":
            spec = {"name": "claude", "kind": "anthropic", "base_url": upstream.url}
        else:
            spec = {"name": "compat", "kind": "openai_compatible", "base_url": f"{upstream.url}/v1"}
        provider = await registry.providers.create(admin, {**spec, "api_key": KEY})
        model = await registry.models.create(
            admin,
            {
                "provider_id": provider.id,
                "model_id": MODEL,
                "capabilities": ["text", "streaming", "vision", "function_calling"],
                "price": PRICE,
            },
        )
        user = await registry.users.create(admin, UserCreate(email="app@example.com"))
        caller = await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))
        await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=GRANT))
        local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
        yield Rig(kind, local, registry, caller.key, user.id, upstream, replies, model.id)
