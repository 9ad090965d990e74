"""A caller-chosen id never decides whether a call is recorded: every call's usage row is keyed
by the request id the server makes; the caller's own id (``x-client-request-id``, else
``x-request-id``) is a correlation field, stored, echoed and filterable; ``Idempotency-Key``
is claimed once per user within a TTL (409 on a repeat), in memory or across replicas through
Redis. Through real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import select

from modelyard.billing.credits import GrantCreate
from modelyard.billing.plans import PlanCreate
from modelyard.billing.subscriptions import SubscriptionCreate
from modelyard.db.tables import CreditEntry, UsageEvent
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running
from tests.gateway.upstream import Upstream, fake_upstream, fixture

CHAT = "/v1/chat/completions"
ASK = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


@dataclass
class World:
    url: str
    keys: dict[str, str]  # payer (billed), other (not billed) -> API key
    users: dict[str, uuid.UUID]
    upstream: Upstream
    gate: asyncio.Event  # the upstream answers once it is set
    fail: list[int]  # statuses the upstream answers next instead of a reply
    registry: Registry
    app: Any

    async def post(self, who: str = "payer", body: Any = None, **headers: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as http:
            return await http.post(
                f"{self.url}{CHAT}",
                json=ASK if body is None else body,
                headers={"Authorization": f"Bearer {self.keys[who]}", **headers},
            )

    def asked(self) -> int:
        return sum(1 for r in self.upstream.received if r.path.endswith("/chat/completions"))

    async def rows(self) -> list[Any]:
        await self.app.state.gateway.recorder.flush()
        async with self.registry.db.engine.connect() as conn:
            query = select(UsageEvent.__table__).order_by(UsageEvent.occurred_at)
            return list(await conn.execute(query))

    async def debits(self, user: str) -> list[Any]:
        async with self.registry.db.engine.connect() as conn:
            query = select(CreditEntry.request_id, CreditEntry.amount).where(
                CreditEntry.kind == "usage", CreditEntry.user_id == self.users[user]
            )
            return list(await conn.execute(query))


@asynccontextmanager
async def _upstream(fail: list[int]) -> AsyncIterator[tuple[Upstream, asyncio.Event]]:
    """An OpenAI upstream that answers once ``gate`` is set; a status in ``fail`` (taken
    first in, first out) makes it answer that error instead."""
    gate = asyncio.Event()
    gate.set()

    async def handler(request: web.Request) -> web.StreamResponse:
        await gate.wait()
        if fail:
            status = fail.pop(0)
            return web.json_response(fixture(f"openai/error_{status}.json"), status=status)
        return web.json_response(fixture("openai/chat_completion.json"))

    async with fake_upstream({("POST", "/v1/chat/completions"): handler}) as upstream:
        yield upstream, gate


async def _setup(registry: Registry, admin: Actor, upstream_url: str) -> tuple[dict, dict]:
    provider = await registry.providers.create(
        admin,
        {"name": "up", "kind": "openai", "base_url": f"{upstream_url}/v1", "api_key": "sk-x"},
    )
    await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": "gpt-4o-mini",
            "price": {"input_per_mtok": "1", "output_per_mtok": "2", "credits_per_1k": "1"},
        },
    )
    await registry.plans.create(admin, PlanCreate(name="metered", monthly_credits=Decimal(0)))
    keys: dict[str, str] = {}
    users: dict[str, uuid.UUID] = {}
    for name in ("payer", "other"):
        user = await registry.users.create(admin, UserCreate(email=f"{name}@example.com"))
        key = await registry.keys.create(admin, ApiKeyCreate(name=name, user_id=user.id))
        keys[name], users[name] = key.key, user.id
    payer = users["payer"]
    await registry.subscriptions.create(admin, SubscriptionCreate(user_id=payer, plan="metered"))
    await registry.credits.grant(admin, GrantCreate(user_id=payer, amount=Decimal(100)))
    return keys, users


@pytest.fixture
async def world(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[World]:
    fail: list[int] = []
    async with _upstream(fail) as (upstream, gate):
        keys, users = await _setup(registry, admin, upstream.url)
        local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
        async with running(local, registry) as (url, app):
            yield World(url, keys, users, upstream, gate, fail, registry, app)


# -- the server's id keys the row ---------------------------------------------------------


async def test_ten_calls_with_one_x_request_id_are_ten_upstream_calls_rows_and_debits(
    world: World,
) -> None:
    answers = [await world.post(**{"x-request-id": "same"}) for _ in range(10)]
    assert [a.status_code for a in answers] == [200] * 10
    assert world.asked() == 10
    server_ids = [a.headers["x-request-id"] for a in answers]
    assert len(set(server_ids)) == 10
    assert all(i.startswith("req_") for i in server_ids)
    assert {a.headers["x-client-request-id"] for a in answers} == {"same"}
    rows = await world.rows()
    assert sorted(r.request_id for r in rows) == sorted(server_ids)
    assert {r.client_request_id for r in rows} == {"same"}
    assert all(r.charged_credits > 0 for r in rows)
    debits = await world.debits("payer")
    assert sorted(d.request_id for d in debits) == sorted(server_ids)  # one debit per call
    assert -sum(d.amount for d in debits) == sum(r.charged_credits for r in rows)


async def test_another_users_call_with_the_same_id_gets_its_own_row(world: World) -> None:
    mine = await world.post("payer", **{"x-request-id": "shared-id"})
    theirs = await world.post("other", **{"x-request-id": "shared-id"})
    assert (mine.status_code, theirs.status_code) == (200, 200)
    rows = {r.user_id: r for r in await world.rows()}
    assert rows.keys() == {world.users["payer"], world.users["other"]}
    assert rows[world.users["other"]].request_id == theirs.headers["x-request-id"]
    assert rows[world.users["other"]].client_request_id == "shared-id"
    assert rows[world.users["other"]].status == "ok"


async def test_x_client_request_id_is_stored_echoed_and_wins_over_x_request_id(
    world: World,
) -> None:
    both = await world.post(**{"x-client-request-id": "job-42", "x-request-id": "ignored"})
    assert both.headers["x-client-request-id"] == "job-42"
    assert both.headers["x-request-id"].startswith("req_")
    plain = await world.post()
    assert "x-client-request-id" not in plain.headers
    # an error answer echoes it too (and records the call under the server's id)
    bad = await world.post(body={**ASK, "model": "nope"}, **{"x-client-request-id": "job-43"})
    assert bad.status_code == 404
    assert bad.headers["x-client-request-id"] == "job-43"
    rows = await world.rows()
    assert [r.client_request_id for r in rows] == ["job-42", None]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-client-request-id", "x" * 101),
        ("x-request-id", "y" * 101),
        ("x-client-request-id", "tab\there"),
        ("Idempotency-Key", "k" * 256),
    ],
)
async def test_an_unusable_caller_id_is_refused_naming_the_header(
    world: World, header: str, value: str
) -> None:
    answer = await world.post(**{header: value})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == header
    assert header in error["message"]
    assert "printable ASCII" in error["message"]
    assert world.asked() == 0
    assert "x-client-request-id" not in answer.headers


# -- Idempotency-Key ----------------------------------------------------------------------


async def test_a_repeated_idempotency_key_is_refused_with_409_and_recorded(world: World) -> None:
    first = await world.post(**{"Idempotency-Key": "order-1"})
    again = await world.post(**{"Idempotency-Key": "order-1"})
    assert (first.status_code, again.status_code) == (200, 409)
    error = again.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "new Idempotency-Key" in error["message"]
    assert "24 hours" in error["message"]
    assert again.headers["x-should-retry"] == "false"  # the SDKs' retry loop stops
    assert world.asked() == 1
    rows = await world.rows()
    assert [(r.status, r.error_code) for r in rows] == [
        ("ok", None),
        ("error", "IDEMPOTENCY_KEY_REUSED"),
    ]
    assert all(r.metadata["idempotency_key"] == "order-1" for r in rows)
    assert all(r.model_name == "gpt-4o-mini" for r in rows)
    assert len(await world.debits("payer")) == 1
    # another key, and another user with the same key, are served
    assert (await world.post(**{"Idempotency-Key": "order-2"})).status_code == 200
    assert (await world.post("other", **{"Idempotency-Key": "order-1"})).status_code == 200
    assert world.asked() == 3


async def test_two_concurrent_calls_with_one_key_one_served_one_409(world: World) -> None:
    world.gate.clear()  # the upstream holds the first call
    first = asyncio.create_task(world.post(**{"Idempotency-Key": "k"}))
    for _ in range(500):  # until the first call reached the upstream
        if world.asked():
            break
        await asyncio.sleep(0.01)
    assert world.asked() == 1
    second = await world.post(**{"Idempotency-Key": "k"})
    world.gate.set()
    assert (await first).status_code == 200
    assert second.status_code == 409
    assert world.asked() == 1


async def test_a_call_that_got_no_answer_frees_its_key_for_the_retry(world: World) -> None:
    world.fail.append(400)  # the upstream refuses the first call: no answer, no retry
    failed = await world.post(**{"Idempotency-Key": "k"})
    assert failed.status_code == 400
    await world.app.state.gateway.settled()  # the claim is given back off the request path
    served = await world.post(**{"Idempotency-Key": "k"})
    assert served.status_code == 200
    assert (await world.post(**{"Idempotency-Key": "k"})).status_code == 409
    assert world.asked() == 2
    rows = await world.rows()
    assert [(r.status, r.error_code) for r in rows] == [
        ("error", "UPSTREAM_BAD_REQUEST"),
        ("ok", None),
        ("error", "IDEMPOTENCY_KEY_REUSED"),
    ]


async def test_the_idempotency_ttl_is_a_setting(
    world: World, registry: Registry, admin: Actor
) -> None:
    await registry.settings.set(admin, "gateway.idempotency_ttl_s", 90)
    await world.app.state.gateway.holder.refresh()
    assert (await world.post(**{"Idempotency-Key": "t"})).status_code == 200
    again = await world.post(**{"Idempotency-Key": "t"})
    assert again.status_code == 409
    assert "in the last 90 s" in again.json()["error"]["message"]


async def test_calls_without_idempotency_key_never_touch_the_claims(world: World) -> None:
    limiter = world.app.state.gateway.limiter
    claims: list[str] = []
    claim = limiter.claim

    async def spy(key: str, token: str, ttl_s: float) -> bool:
        claims.append(key)
        return await claim(key, token, ttl_s)

    limiter.claim = spy
    await world.post()
    await world.post(**{"Idempotency-Key": "z"})
    assert len(claims) == 1
    assert claims[0].endswith(":z")


# -- across replicas, through Redis -------------------------------------------------------


async def test_one_key_claimed_on_one_replica_is_refused_on_another(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Any,
    redis_url: str,
    redis_prefix: str,
) -> None:
    fail: list[int] = []
    async with _upstream(fail) as (upstream, gate), AsyncExitStack() as stack:
        keys, users = await _setup(registry, admin, upstream.url)
        replicas = []
        for n in range(2):
            local = settings.model_copy(
                update={
                    "usage_outbox": tmp_path / f"outbox-{n}",
                    "redis_url": redis_url,
                    "redis_prefix": redis_prefix,
                }
            )
            url, app = await stack.enter_async_context(running(local, registry))
            replicas.append(World(url, keys, users, upstream, gate, fail, registry, app))
        a, b = replicas
        gate.clear()
        first = asyncio.create_task(a.post(**{"Idempotency-Key": "shared"}))
        for _ in range(500):
            if a.asked():
                break
            await asyncio.sleep(0.01)
        busy = await b.post(**{"Idempotency-Key": "shared"})  # while the first runs
        gate.set()
        assert (await first).status_code == 200
        assert busy.status_code == 409
        later = await b.post(**{"Idempotency-Key": "shared"})  # and after it
        assert later.status_code == 409
        assert (await b.post("other", **{"Idempotency-Key": "shared"})).status_code == 200
        assert a.asked() == 2
        await a.rows()
        rows = await b.rows()
    assert len(rows) == 4  # every call recorded under its own id, the refused ones too
    assert sorted(r.error_code or "" for r in rows) == [
        "",
        "",
        "IDEMPOTENCY_KEY_REUSED",
        "IDEMPOTENCY_KEY_REUSED",
    ]
