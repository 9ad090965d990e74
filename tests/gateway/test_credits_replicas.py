"""A user's last credits are spendable through whichever replica gets the call, never
overdrawn: two real ``modelyard serve`` processes on one PostgreSQL and Redis, in front of
the mock OpenAI upstream.

Every call asks for ``max_tokens`` 5 and the mock answers exactly 5 completion tokens; the
model's prompt tokens are free and a completion token costs 0.2 credits, so a call's worst
case is its actual cost: one credit. A balance of K credits is then exactly K calls.

The servers are shared by the module (each takes seconds to start on a busy machine); each
test has its own user. The test that kills a replica runs last."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.billing.credits import GrantCreate
from modelyard.bootstrap import bootstrap
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.conftest import IN_CI
from tests.support import pg
from tests.support.mock_openai import GOOD_KEY, mock_openai
from tests.support.serve_process import Server, replicas

MODEL = "credit-model"
CALL = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
TTL_S = 3  # MODELYARD_CREDIT_HOLD_TTL_S of both servers: a killed one's hold lapses soon
GUARD_S = 60  # a guard against a hang, not a measure
USERS = {"burst": 20, "idle": 40, "crash": 40}  # credits granted, one credit a call


@dataclass
class Rig:
    servers: list[Server]
    settings: Settings
    keys: dict[str, tuple[str, uuid.UUID]]  # user's name -> API key, user id


async def _setup(settings: Settings, upstream: str) -> dict[str, tuple[str, uuid.UUID]]:
    registry = Registry.open(settings)
    try:
        made = await bootstrap(settings, registry, migrate=False)
        assert made.admin_key is not None
        admin = await registry.keys.authenticate(made.admin_key)
        provider = await registry.providers.create(
            admin, {"name": "mock", "kind": "openai", "base_url": upstream, "api_key": GOOD_KEY}
        )
        await registry.models.create(
            admin,
            {
                "provider_id": provider.id,
                "model_id": MODEL,
                "price": {"input_per_mtok": "0", "output_per_mtok": "2000"},
            },
        )
        keys = {}
        for name, credits in USERS.items():
            user = await registry.users.create(admin, UserCreate(email=f"{name}@example.com"))
            await registry.credits.grant(
                admin, GrantCreate(user_id=user.id, amount=Decimal(credits))
            )
            key = await registry.keys.create(admin, ApiKeyCreate(name=name, user_id=user.id))
            keys[name] = (key.key, user.id)
        return keys
    finally:
        await registry.close()


@pytest.fixture(scope="module")
def rig(
    pg_database: str | None,
    redis_run: tuple[str, str] | str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Rig]:
    if pg_database is None:
        pytest.skip(f"PostgreSQL not available: {pg.unavailable()}")
    if isinstance(redis_run, str):
        if IN_CI:
            pytest.fail(f"Redis is required in CI: {redis_run}")
        pytest.skip(f"Redis not available: {redis_run}")
    asyncio.run(pg.reset(pg_database))
    directory: Path = tmp_path_factory.mktemp("credit-replicas")
    settings = Settings(
        database_url=pg_database,
        master_key_file=directory / "modelyard.key",
        admin_email="admin@example.com",
    )
    with mock_openai() as upstream:
        keys = asyncio.run(_setup(settings, upstream.url))
        env = {
            "MODELYARD_DATABASE_URL": pg_database,
            "MODELYARD_MASTER_KEY_FILE": str(settings.master_key_file),
            "MODELYARD_REDIS_URL": redis_run[0],
            "MODELYARD_REDIS_PREFIX": f"{redis_run[1]}:credit-replicas",
            "MODELYARD_BILLING_INTERVAL_S": "0",
            "MODELYARD_CREDIT_HOLD_TTL_S": str(TTL_S),
        }
        secrets = [key for key, _ in keys.values()] + [GOOD_KEY]
        with replicas(directory, env, 2, secrets) as servers:
            yield Rig(servers, settings, keys)


async def _call(http: httpx.AsyncClient, server: Server, key: str) -> tuple[int, Any]:
    answer = await http.post(
        f"{server.base}/v1/chat/completions",
        json=CALL,
        headers={"Authorization": f"Bearer {key}"},
    )
    return answer.status_code, answer.json()


async def _balance(rig: Rig, user_id: uuid.UUID) -> tuple[Decimal, Decimal]:
    """The user's ledger balance and what gateways hold of it."""
    registry = Registry.open(rig.settings)
    try:
        balance = await registry.credits.balance(Actor.operator("test"), user_id)
        return balance.balance, balance.held
    finally:
        await registry.close()


async def _settles_at(rig: Rig, user_id: uuid.UUID, expected: Decimal) -> None:
    """Wait until the usage rows are in the ledger and the holds given back."""
    deadline = time.monotonic() + GUARD_S
    while (found := await _balance(rig, user_id)) != (expected, Decimal(0)):
        assert time.monotonic() < deadline, f"balance and held: {found}"
        await asyncio.sleep(0.1)


def _refused(body: Any) -> None:
    """A 402 names what is available (nothing) and what the call may cost."""
    error = body["error"]
    assert error["code"] == "insufficient_credits", body
    assert "0 available" in error["message"], body


async def test_credits_for_k_calls_admit_exactly_k_spread_over_both_replicas(rig: Rig) -> None:
    key, user_id = rig.keys["burst"]
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(timeout=GUARD_S, limits=limits) as http:
        answers = await asyncio.gather(*(_call(http, rig.servers[i % 2], key) for i in range(100)))
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {200, 402}, statuses
    admitted = [i % 2 for i, status in enumerate(statuses) if status == 200]
    assert len(admitted) == USERS["burst"]  # not one fewer, never one more
    assert set(admitted) == {0, 1}, "both replicas admitted calls"
    for status, body in answers:
        if status == 402:
            _refused(body)
    await _settles_at(rig, user_id, Decimal(0))


async def test_a_replica_idle_on_the_last_credits_gives_them_to_the_other(rig: Rig) -> None:
    """The first replica took headroom for 3 more calls and goes idle; the second spends
    every credit left (without waiting for the first's idle release, 30 s)."""
    key, user_id = rig.keys["idle"]
    first, second = rig.servers
    async with httpx.AsyncClient(timeout=GUARD_S) as http:
        assert (await _call(http, first, key))[0] == 200
        await _settles_at_most(rig, user_id, Decimal(39))
        assert (await _balance(rig, user_id))[1] == 4  # its headroom, and the charge written
        answers = await asyncio.gather(*(_call(http, second, key) for _ in range(39)))
        assert [status for status, _ in answers] == [200] * 39
        status, body = await _call(http, second, key)
        assert status == 402
        _refused(body)
    await _settles_at(rig, user_id, Decimal(0))


async def _settles_at_most(rig: Rig, user_id: uuid.UUID, expected: Decimal) -> None:
    """Wait until the ledger holds the calls made so far (holds may remain)."""
    deadline = time.monotonic() + GUARD_S
    while (found := await _balance(rig, user_id))[0] != expected:
        assert time.monotonic() < deadline, f"balance and held: {found}"
        await asyncio.sleep(0.1)


async def test_a_killed_replicas_credits_are_spendable_after_the_hold_ttl(rig: Rig) -> None:
    """SIGKILL the replica holding credits: the other spends all it can at once, and what
    the dead one held once its hold lapses (``MODELYARD_CREDIT_HOLD_TTL_S``; until then
    its calls are refused, each after asking the dead one for ``ASK_WAIT_S``). Runs last:
    it kills a shared server."""
    key, user_id = rig.keys["crash"]
    first, second = rig.servers
    async with httpx.AsyncClient(timeout=GUARD_S) as http:
        assert (await _call(http, first, key))[0] == 200  # first holds 4: 1 spent, 3 spare
        await _settles_at_most(rig, user_id, Decimal(39))
        assert (await _balance(rig, user_id))[1] == 4  # what the first holds, then dies with
        first.kill()
        admitted, refused = 0, 0
        deadline = time.monotonic() + GUARD_S
        while admitted < 39:  # 35 at once, 4 once the dead hold lapsed (3 s)
            assert time.monotonic() < deadline, (admitted, refused)
            status, body = await _call(http, second, key)
            if status == 200:
                admitted += 1
            else:
                assert status == 402, body
                refused += 1  # the dead replica's hold has not lapsed yet
                await asyncio.sleep(0.2)
        status, body = await _call(http, second, key)
        assert status == 402
        _refused(body)
    await _settles_at(rig, user_id, Decimal(0))
