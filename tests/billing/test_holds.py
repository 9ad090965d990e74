"""Credit holds shared by several gateway processes: together they never reserve more than
the user has, and a process gives its hold back when it stops or goes idle."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from modelyard.billing import holds as credits_module
from modelyard.billing.credits import GrantCreate
from modelyard.billing.holds import CreditKeeper
from modelyard.errors import PaymentRequired
from modelyard.registry.actors import Actor
from modelyard.registry.users import UserCreate
from modelyard.services import Registry

UNIT = Decimal("1.5")


async def test_two_replicas_never_reserve_more_than_the_balance(
    registry: Registry, admin: Actor
) -> None:
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=UNIT * 10))
    a, b = CreditKeeper(registry.db, "replica-a"), CreditKeeper(registry.db, "replica-b")

    async def attempt(keeper: CreditKeeper) -> bool:
        try:
            await keeper.reserve(user.id, UNIT)
        except PaymentRequired:
            return False
        return True

    outcomes = await asyncio.gather(*(attempt(k) for _ in range(30) for k in (a, b)))
    assert sum(outcomes) == 10  # every credit reserved once, none twice
    balance = await registry.credits.balance(admin, user.id)
    assert balance.held == UNIT * 10
    assert balance.available == 0
    with pytest.raises(PaymentRequired):
        await b.reserve(user.id, UNIT)
    await a.stop()
    await b.stop()
    balance = await registry.credits.balance(admin, user.id)
    assert (balance.held, balance.available) == (0, UNIT * 10)


async def test_an_idle_replica_releases_its_hold_for_the_others(
    registry: Registry, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=UNIT * 4))
    a, b = CreditKeeper(registry.db, "replica-a"), CreditKeeper(registry.db, "replica-b")
    reservation = await a.reserve(user.id, UNIT * 4)  # a call that may cost all 4
    a.settle(reservation, UNIT)
    a.done(user.id, UNIT, stored=False)  # as if the usage row were a duplicate: no debit
    with pytest.raises(PaymentRequired) as info:
        await b.reserve(user.id, UNIT)
    assert info.value.details["available"] == "0"
    monkeypatch.setattr(credits_module, "IDLE_S", 0.0)
    await a.tick()
    assert (await registry.credits.balance(admin, user.id)).held == 0
    await b.reserve(user.id, UNIT * 4)
    await a.stop()
    await b.stop()


async def test_a_call_that_used_more_than_reserved_is_capped_at_what_is_held(
    registry: Registry, admin: Actor
) -> None:
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=UNIT * 2))
    keeper = CreditKeeper(registry.db)
    reservation = await keeper.reserve(user.id, UNIT)
    assert keeper.settle(reservation, UNIT * 5) == UNIT  # never past the hold, nor the balance
    await keeper.stop()


async def test_a_hold_keeps_its_headroom_a_tenth_of_what_is_free_beyond_the_call(
    registry: Registry, admin: Actor
) -> None:
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=Decimal(100)))
    keeper = CreditKeeper(registry.db)
    await keeper.reserve(user.id, Decimal("2"))  # headroom 16 calls was 34 of 100
    held = (await registry.credits.balance(admin, user.id)).held
    assert held == Decimal("2") + Decimal("2") * 4  # 4 calls: 8 <= 10% of the 98 beyond
    await keeper.stop()
    small = CreditKeeper(registry.db)
    await small.reserve(user.id, Decimal("0.01"))  # a small call: 16 more such calls
    assert (await registry.credits.balance(admin, user.id)).held == Decimal("0.17")
    await small.stop()


async def test_a_call_may_take_less_than_its_worst_case_but_not_below_its_least(
    registry: Registry, admin: Actor
) -> None:
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=Decimal(3)))
    keeper = CreditKeeper(registry.db)
    part = await keeper.reserve(user.id, Decimal("8.2"), least=Decimal("0.01"))
    assert part.amount == Decimal(3)  # all there is
    with pytest.raises(PaymentRequired) as info:
        await keeper.reserve(user.id, Decimal("8.2"), least=Decimal("0.01"))
    assert info.value.details == {"available": "0", "estimate": "8.2"}
    keeper.settle(part, Decimal("0.01"))
    again = await keeper.reserve(user.id, Decimal("8.2"), least=Decimal("0.01"))
    assert again.amount == Decimal("2.99")
    await keeper.stop()


async def test_calls_that_waited_for_a_resize_that_took_everything_are_refused_in_memory(
    registry: Registry, admin: Actor
) -> None:
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=UNIT * 3))
    keeper = CreditKeeper(registry.db)

    async def attempt() -> bool:
        try:
            await keeper.reserve(user.id, UNIT)
        except PaymentRequired:
            return False
        return True

    outcomes = await asyncio.gather(*(attempt() for _ in range(50)))
    assert sum(outcomes) == 3
    assert keeper.syncs <= 4  # not one database round trip per refused call
    await keeper.stop()
