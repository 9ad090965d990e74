"""Support for tests/gateway/test_e2e_responses.py: a modelyard server in front of the fake
upstreams of tests/gateway/responses_upstream.py (OpenAI's Responses API, OpenAI chat
completions, Anthropic's Messages API, and failing ones), one model per upstream, each call
costing :data:`COST` at :data:`PRICE`, the caller paying in credits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy import select

from modelyard.billing.credits import GrantCreate
from modelyard.db.tables import UsageEvent
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.responses_upstream import (
    AFTER_TOOL,
    ANSWER,
    ARGUMENTS,
    COMPLETION,
    PROMPT,
    broken,
    claude,
    compat,
    down,
    native,
    native_broken,
    sse,
)
from tests.gateway.server import running
from tests.gateway.upstream import Upstream, fake_upstream

__all__ = ["AFTER_TOOL", "ANSWER", "ARGUMENTS", "COMPLETION", "PROMPT"]

NATIVE, COMPAT, CLAUDE = "native-model", "compat-model", "claude-model"
SLOW = "slow-model"  # an OpenAI-compatible upstream that sends a delta, then waits for Rig.release
BROKEN = "broken-model"  # an OpenAI-compatible upstream whose streams fail after a delta
NATIVE_BROKEN = "native-broken-model"  # an OpenAI upstream whose streams fail likewise
SHARED = "shared-model"  # a failing OpenAI upstream's, falling back to compat-model
CREDITS = Decimal(100)  # granted to the caller: each call is paid for
CHARGE = Decimal("0.6")  # COST at 100 credits per USD
MODELS = (NATIVE, COMPAT, CLAUDE)
PRICE = {"input_per_mtok": "2", "output_per_mtok": "8"}
COST = Decimal("0.006")  # 1000 * 2 / 1e6 + 500 * 8 / 1e6
CAPABILITIES = ["text", "streaming", "vision", "function_calling", "json_mode"]
RETRY = {"max_attempts": 2, "base_delay_ms": 1, "max_delay_ms": 5, "jitter": False}


@dataclass
class Rig:
    app: Any
    url: str
    key: str
    other_key: str  # another user's
    user_id: Any
    admin: Actor
    release: asyncio.Event  # lets the slow upstream end its stream
    registry: Registry
    upstream: Upstream

    def received(self, path: str) -> list[Any]:
        return [r.body for r in self.upstream.received if r.path == path]

    async def usage(self) -> list[Any]:
        await self.app.state.gateway.recorder.flush()
        async with self.registry.db.engine.connect() as conn:
            rows = await conn.execute(select(UsageEvent.__table__))
            return sorted(rows, key=lambda row: (row.occurred_at, row.request_id))


async def _user(registry: Registry, admin: Actor, email: str) -> str:
    user = await registry.users.create(admin, UserCreate(email=email))
    return (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key


@asynccontextmanager
async def responses_rig(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    await registry.settings.set(admin, "gateway.retry", RETRY)
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        chunk = {
            "id": "chatcmpl-1",
            "created": 1,
            "model": body["model"],
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": "Once upon"}}],
        }
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(sse([(None, chunk)]))
        await release.wait()
        return response

    routes = {
        ("POST", "/native/v1/responses"): native,
        ("POST", "/compat/v1/chat/completions"): compat,
        ("POST", "/v1/messages"): claude,
        ("POST", "/broken/v1/chat/completions"): broken,
        ("POST", "/down/v1/responses"): down,
        ("POST", "/nbroken/v1/responses"): native_broken,
        ("POST", "/slow/v1/chat/completions"): slow,
    }
    async with fake_upstream(routes) as upstream:
        providers = (
            ("up-native", "openai", f"{upstream.url}/native/v1", (NATIVE,)),
            ("up-compat", "openai_compatible", f"{upstream.url}/compat/v1", (COMPAT,)),
            ("up-down", "openai", f"{upstream.url}/down/v1", (SHARED,)),
            ("up-claude", "anthropic", upstream.url, (CLAUDE,)),
            ("up-broken", "openai_compatible", f"{upstream.url}/broken/v1", (BROKEN,)),
            ("up-nbroken", "openai", f"{upstream.url}/nbroken/v1", (NATIVE_BROKEN,)),
            ("up-slow", "openai_compatible", f"{upstream.url}/slow/v1", (SLOW,)),
        )
        for name, kind, base_url, models in providers:
            provider = await registry.providers.create(
                admin, {"name": name, "kind": kind, "base_url": base_url, "api_key": "k-up"}
            )
            for model in models:
                spec = {"provider_id": provider.id, "model_id": model, "price": PRICE}
                if model == SHARED:
                    spec["fallbacks"] = [f"up-compat/{COMPAT}"]
                await registry.models.create(admin, spec | {"capabilities": CAPABILITIES})
        user = await registry.users.create(admin, UserCreate(email="app@example.com"))
        key = (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key
        await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=CREDITS))
        other = await _user(registry, admin, "other@example.com")
        local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
        try:
            async with running(local, registry) as (url, app):
                yield Rig(app, url, key, other, user.id, admin, release, registry, upstream)
        finally:
            release.set()
