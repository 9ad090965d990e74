"""Several processes on one SQLite file have no NOTIFY: when they share a Redis, a process
short of a user's credits asks the others over Redis pub/sub (``billing/giveback_redis.py``),
as replicas on PostgreSQL do over NOTIFY (``tests/billing/test_holds.py``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from modelyard.billing.credits import GrantCreate
from modelyard.billing.holds import CreditKeeper
from modelyard.errors import PaymentRequired
from modelyard.registry.actors import Actor
from modelyard.registry.users import UserCreate
from modelyard.services import Registry

UNIT = Decimal("1.5")


async def _listening(*keepers: CreditKeeper) -> None:
    for keeper in keepers:
        for _ in range(1000):
            if keeper.giveback is not None and keeper.giveback.listening:
                break
            await asyncio.sleep(0.01)
        assert keeper.giveback is not None
        assert keeper.giveback.listening


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_workers_on_sqlite_ask_each_other_over_redis(
    registry: Registry, admin: Actor, redis_url: str, redis_prefix: str
) -> None:
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=UNIT * 40))
    a, b = (
        CreditKeeper(registry.db, name, redis_url=redis_url, redis_prefix=redis_prefix)
        for name in ("worker-a", "worker-b")
    )
    await a.start()
    await b.start()
    try:
        await _listening(a, b)
        await a.reserve(user.id, UNIT)  # a holds 4: this call and 3 more
        assert (await b.reserve(user.id, UNIT * 36)).amount == UNIT * 36
        assert (await b.reserve(user.id, UNIT * 3)).amount == UNIT * 3  # a's 3 unused
        assert (await registry.credits.balance(admin, user.id)).held == UNIT * 40
        with pytest.raises(PaymentRequired) as info:
            await b.reserve(user.id, UNIT)
        assert info.value.details["available"] == "0"
    finally:
        await a.stop()
        await b.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_without_redis_a_short_worker_is_refused_never_overdrawn(
    registry: Registry, admin: Actor
) -> None:
    """Redis unreachable: no messages, the holds alone decide (a refusal, not an overdraft)."""
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=UNIT * 40))
    gone = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    a, b = (
        CreditKeeper(registry.db, name, redis_url=gone, redis_prefix="none")
        for name in ("worker-a", "worker-b")
    )
    await a.start()
    await b.start()
    try:
        assert b.giveback is not None
        assert not b.giveback.listening
        await a.reserve(user.id, UNIT)
        assert (await b.reserve(user.id, UNIT * 36)).amount == UNIT * 36
        with pytest.raises(PaymentRequired):
            await b.reserve(user.id, UNIT)  # a's 3 stay a's until it idles
        assert (await registry.credits.balance(admin, user.id)).held == UNIT * 40
    finally:
        await a.stop()
        await b.stop()
