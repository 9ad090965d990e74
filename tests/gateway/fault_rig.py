"""A billed caller in front of a real, scripted OpenAI upstream, for fault tests.

The caller has everything a call can acquire: a subscription on a plan with a parallel limit
and rpm/tpm limits, credits (a hold), an API key and a user with tpm limits, and a provider
with its own tpm and parallel limits. The upstream (a real HTTP server on 127.0.0.1) answers
each request by an action its script picks: a normal reply, a 429 with Retry-After, a 500, a
connection reset before the answer, or a reset in the middle of it.

:meth:`Billed.leftovers` reads what the gateway still holds once everything settled: slots
held, tokens counted per rate window, credits reserved or charged but not in the ledger.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy import func, select

from modelyard.billing.credits import GrantCreate
from modelyard.billing.plans import PlanCreate
from modelyard.billing.subscriptions import SubscriptionCreate
from modelyard.db.tables import CreditEntry, CreditHold, UsageEvent
from modelyard.gateway.limits.memory import MemoryLimiter
from modelyard.gateway.limits.redis import RedisLimiter
from modelyard.gateway.service import Gateway
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from modelyard.usage.record import UsageRecord
from tests.gateway.paced import DONE, chunk, event, usage_chunk
from tests.gateway.server import running
from tests.gateway.upstream import Upstream, fake_upstream
from tests.gateway.v1_rig import Exchange

MODEL = "gpt-4o-mini"
PATH = "/v1/chat/completions"
PROMPT, COMPLETION = 7, 5  # what the upstream reports a normal answer used
ASK = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}
STREAM = ASK | {"stream": True}
RETRY = {"max_attempts": 3, "base_delay_ms": 1, "max_delay_ms": 5, "jitter": False}
ACTIONS = ("ok", "429", "500", "reset", "cut")
Script = Callable[[int, dict[str, Any]], str]


def reply(content: str = "hello") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {
            "prompt_tokens": PROMPT,
            "completion_tokens": COMPLETION,
            "total_tokens": PROMPT + COMPLETION,
        },
    }


SSE = event(chunk("hel")) + event(chunk("lo")) + event(usage_chunk(PROMPT, COMPLETION)) + DONE


class Scripted:
    """The upstream's chat route: request ``n`` (counted from 0) gets ``script(n, body)``:

    * ``ok``: the answer (JSON, or an event stream with a usage chunk);
    * ``429``: rate limited, ``Retry-After: 0.001``; ``500``: a server error;
    * ``reset``: the connection is closed before any answer;
    * ``cut``: part of the answer (a first chunk of a stream), then the connection is cut;
    * ``wait``: the answer once :attr:`gate` is set; ``drip``: a stream's first chunk, the
      rest once :attr:`gate` is set.
    """

    def __init__(self, script: Script | None = None) -> None:
        self.script: Script = script or (lambda n, body: "ok")
        self.count = 0
        self.actions: list[str] = []
        self.gate = asyncio.Event()

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        action = self.script(self.count, body)
        self.count += 1
        self.actions.append(action)
        streamed = bool(body.get("stream"))
        if action == "429":
            error = {"error": {"message": "slow down", "type": "rate_limit", "code": None}}
            return web.json_response(error, status=429, headers={"Retry-After": "0.001"})
        if action == "500":
            error = {"error": {"message": "boom", "type": "server_error", "code": None}}
            return web.json_response(error, status=500)
        if action in ("reset", "cut") or (action == "drip" and streamed):
            return await self._partial(request, action, streamed)
        if action == "wait":
            await self.gate.wait()
        if streamed:
            return web.Response(body=SSE, content_type="text/event-stream")
        return web.json_response(reply())

    async def _partial(
        self, request: web.Request, action: str, streamed: bool
    ) -> web.StreamResponse:
        """Nothing (``reset``) or a first part of the answer, then a cut or the gate."""
        assert request.transport is not None
        if action == "reset":
            request.transport.abort()
            return web.Response()
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream" if streamed else "application/json"}
        )
        response.content_length = None if streamed else 10_000
        await response.prepare(request)
        await response.write(event(chunk("hel")) if streamed else b'{"id": "chat')
        if action == "drip":
            await self.gate.wait()
            await response.write(SSE.split(b"\n\n", 1)[1])
            await response.write_eof()
            return response
        await asyncio.sleep(0.01)  # the part reaches the gateway as a read of its own
        request.transport.abort()
        return response


@dataclass
class Leftovers:
    """What the gateway still holds once every call settled."""

    slots: dict[str, int]  # parallel slots held, by limiter key (only those held)
    tokens: dict[str, int]  # tokens counted in each rate window of this caller
    reserved: Decimal  # credits reserved by calls in flight
    unwritten: Decimal  # credits charged whose usage row has not reached the ledger


@dataclass
class Billed:
    app: Any
    url: str
    key: str
    user_id: uuid.UUID
    key_id: uuid.UUID
    provider_id: uuid.UUID
    registry: Registry
    upstream: Upstream
    scripted: Scripted
    records: list[UsageRecord] = field(default_factory=list)

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    @property
    def windows(self) -> list[str]:
        """The limiter keys of every rate window this caller's calls are counted in."""
        user = self.user_id
        return [
            f"key:{self.key_id}",
            f"user:{user}",
            f"plan:{user}",
            f"provider:{self.provider_id}",
        ]

    @property
    def slot_keys(self) -> list[str]:
        return [f"plan-parallel:{self.user_id}", f"parallel:{self.provider_id}"]

    def exchange(self, body: Any) -> Exchange:
        """A request to the app driven as an ASGI server would (the test may cancel it, or
        let its client go away)."""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": PATH,
            "raw_path": PATH.encode(),
            "query_string": b"",
            "headers": [
                (b"authorization", f"Bearer {self.key}".encode()),
                (b"content-type", b"application/json"),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        return Exchange(self.app, scope, orjson.dumps(body))

    async def settled(self) -> None:
        """Wait until the limiters are settled and every usage row is in the database."""
        await self.gateway.settled()
        await self.gateway.recorder.flush()

    async def leftovers(self) -> Leftovers:
        await self.settled()
        limiter = self.gateway.limiter
        slots: dict[str, int] = {}
        tokens: dict[str, int] = {}
        if isinstance(limiter, RedisLimiter):
            local = limiter._local  # the fallback while Redis is unreachable: unused here
            assert not local.tokens(), "limits fell back to this replica's own"
            for name in self.slot_keys:
                held = await limiter.redis.zcard(limiter.keys(name)[1][0])
                if held:
                    slots[name] = int(held)
            for name in self.windows:
                counted = await limiter.redis.hget(limiter.keys(name)[0][0], "t")
                tokens[name] = int(counted or 0)
        else:
            assert isinstance(limiter, MemoryLimiter)
            slots = limiter.in_use()
            counted_tokens = limiter.tokens()
            tokens = {name: counted_tokens.get(name, 0) for name in self.windows}
        reserved, unwritten = self.gateway.credits.outstanding()
        return Leftovers(slots, tokens, reserved, unwritten)

    async def rows(self) -> list[Any]:
        async with self.registry.db.engine.connect() as conn:
            return list(await conn.execute(select(UsageEvent.__table__)))

    async def debits(self) -> Decimal:
        """The credits the ledger debited for usage."""
        async with self.registry.db.engine.connect() as conn:
            total = await conn.scalar(
                select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(
                    CreditEntry.kind == "usage"
                )
            )
        return -Decimal(total or 0)

    async def holds(self) -> int:
        async with self.registry.db.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(CreditHold)) or 0)


def all_released(left: Leftovers, used: dict[str, int]) -> None:
    """Nothing held: no slot, no credit reservation nor unwritten charge, and every rate
    window counts exactly the tokens the calls used (``used``), not what they reserved."""
    assert left.slots == {}
    assert (left.reserved, left.unwritten) == (0, 0)
    assert left.tokens == used


@asynccontextmanager
async def billed_rig(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Any,
    *,
    script: Script | None = None,
    max_parallel: int = 4,
    credits: Decimal = Decimal(1000),
    plan_rpm: int = 100_000,
    redis: tuple[str, str] | None = None,
) -> AsyncIterator[Billed]:
    """A running server with one billed caller (see the module's docstring); its limits
    are kept in Redis when ``redis`` (url, key prefix) is given, else in memory."""
    await registry.settings.set(admin, "gateway.retry", RETRY)
    scripted = Scripted(script)
    async with fake_upstream({("POST", PATH): scripted}) as upstream:
        provider = await registry.providers.create(
            admin,
            {
                "name": "openai-up",
                "kind": "openai",
                "base_url": f"{upstream.url}/v1",
                "api_key": "k",
                "max_parallel": max_parallel,
                "tpm_limit": 10_000_000,
            },
        )
        await registry.models.create(
            admin,
            {
                "provider_id": provider.id,
                "model_id": MODEL,
                "capabilities": ["text", "streaming"],
                "price": {"input_per_mtok": "2", "output_per_mtok": "8", "credits_per_1k": "2"},
            },
        )
        await registry.plans.create(
            admin,
            PlanCreate(
                name="metered",
                monthly_credits=Decimal(0),
                max_parallel=max_parallel,
                rpm_limit=plan_rpm,
                tpm_limit=10_000_000,
            ),
        )
        user = await registry.users.create(
            admin, UserCreate(email="payer@example.com", tpm_limit=10_000_000)
        )
        await registry.subscriptions.create(
            admin, SubscriptionCreate(user_id=user.id, plan="metered")
        )
        await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=credits))
        made = await registry.keys.create(
            admin, ApiKeyCreate(name="app", user_id=user.id, tpm_limit=10_000_000)
        )
        update: dict[str, Any] = {"usage_outbox": tmp_path / "usage.outbox"}
        if redis is not None:
            # the storm, the upstream and the gateway share this one event loop: on a busy
            # machine it can stall past the default second, and the test checks Redis is used
            update |= {"redis_url": redis[0], "redis_prefix": redis[1], "redis_timeout_s": 10.0}
        local = settings.model_copy(update=update)
        async with running(local, registry) as (url, app):
            rig = Billed(
                app,
                url,
                made.key,
                user.id,
                made.api_key.id,
                provider.id,
                registry,
                upstream,
                scripted,
            )
            recorder = app.state.gateway.recorder
            record = recorder.record

            def keep(row: UsageRecord) -> None:
                rig.records.append(row)
                record(row)

            recorder.record = keep
            yield rig
