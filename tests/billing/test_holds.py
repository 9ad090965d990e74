"""Credit holds shared by several gateway processes: together they never reserve more than
the user has, and a process gives its hold back when it stops or goes idle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.billing import giveback
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
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=UNIT * 100))
    a = CreditKeeper(registry.db, "replica-a")
    reservation = await a.reserve(user.id, UNIT)  # far from the end: headroom, not scarce
    a.settle(reservation, UNIT)
    a.done(user.id, UNIT, stored=False)  # as if the usage row were a duplicate: no debit
    await a.shrinker.quiet()
    assert (await registry.credits.balance(admin, user.id)).held == UNIT * 10  # kept for later
    monkeypatch.setattr(credits_module, "IDLE_S", 0.0)
    await a.tick()
    assert (await registry.credits.balance(admin, user.id)).held == 0
    await a.stop()


async def test_a_scarce_hold_gives_back_at_once_what_its_call_did_not_use(
    registry: Registry, admin: Actor
) -> None:
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=UNIT * 4))
    a, b = CreditKeeper(registry.db, "replica-a"), CreditKeeper(registry.db, "replica-b")
    reservation = await a.reserve(user.id, UNIT * 4)  # a call that may cost all 4
    a.settle(reservation, UNIT)  # it cost 1: 3 go back to the database, not idle in a's hold
    await a.shrinker.quiet()
    assert (await registry.credits.balance(admin, user.id)).held == UNIT
    assert (await b.reserve(user.id, UNIT * 3)).amount == UNIT * 3
    a.done(user.id, UNIT, stored=False)  # the charge will never reach the ledger
    await a.shrinker.quiet()
    assert (await registry.credits.balance(admin, user.id)).held == UNIT * 3  # b's alone
    assert (await b.reserve(user.id, UNIT)).amount == UNIT
    await a.stop()
    await b.stop()


async def test_a_replica_short_of_credits_gets_the_surplus_another_holds(
    registry: Registry, admin: Actor
) -> None:
    """a took headroom while the balance was large; b, at the end of it, asks a for it.
    SQLite has no NOTIFY (and one server there is one process): b is refused, a's surplus
    comes back when a goes idle."""
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=UNIT * 40))
    a, b = CreditKeeper(registry.db, "replica-a"), CreditKeeper(registry.db, "replica-b")
    await a.start()
    await b.start()
    try:
        await _listening(a, b)
        await a.reserve(user.id, UNIT)  # a holds 4: this call and 3 more
        assert (await b.reserve(user.id, UNIT * 36)).amount == UNIT * 36  # all the rest
        if registry.db.is_postgres:
            assert (await b.reserve(user.id, UNIT * 3)).amount == UNIT * 3  # a's 3 unused
            assert (await registry.credits.balance(admin, user.id)).held == UNIT * 40
        with pytest.raises(PaymentRequired) as info:
            await b.reserve(user.id, UNIT)
        assert info.value.details["available"] == "0"
        if registry.db.is_postgres:  # a, asked again, keeps what its call in flight needs
            with pytest.raises(PaymentRequired):
                await a.reserve(user.id, UNIT)
    finally:
        await a.stop()
        await b.stop()


async def test_a_crashed_replicas_hold_lapses_after_its_ttl(
    registry: Registry, admin: Actor
) -> None:
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=UNIT * 2))
    crashed = CreditKeeper(registry.db, "replica-a", ttl_s=5)
    await crashed.reserve(user.id, UNIT * 2)  # then dies: never settles, never answers
    b = CreditKeeper(registry.db, "replica-b")
    await b.start()
    try:
        await _listening(b)
        with pytest.raises(PaymentRequired):
            await b.reserve(user.id, UNIT)  # asked, no answer: refused after ASK_WAIT_S
        clock = registry.db.clock
        registry.db.clock = lambda: clock() + timedelta(seconds=5)
        assert (await b.reserve(user.id, UNIT * 2)).amount == UNIT * 2
    finally:
        await b.stop()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # NOTIFY
async def test_asks_resume_when_the_listening_connection_comes_back(
    registry: Registry, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL restart drops every LISTEN connection: each comes back by itself, and
    the asks with it. (Meanwhile a short replica cannot ask and is refused, never
    overdrawn: ``tests/gateway/test_credit_messages_redis.py`` pins that without Redis.)"""
    monkeypatch.setattr(giveback, "RECONNECT_S", 0.05)
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=UNIT * 40))
    a, b = CreditKeeper(registry.db, "replica-a"), CreditKeeper(registry.db, "replica-b")
    await a.start()
    await b.start()
    try:
        await _listening(a, b)
        await a.reserve(user.id, UNIT)  # a holds 4: this call and 3 more
        await b.reserve(user.id, UNIT * 36)
        before = await _listeners(registry)
        assert len(before) == 2
        async with registry.db.engine.connect() as conn:
            for pid in before:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(1000):  # each keeper connects again by itself
            now = await _listeners(registry)
            if len(now) == 2 and not now & before:
                break
            await asyncio.sleep(0.01)
        assert len(now) == 2
        assert not now & before
        await _listening(a, b)  # back by themselves
        assert (await b.reserve(user.id, UNIT * 3)).amount == UNIT * 3
        assert (await registry.credits.balance(admin, user.id)).held == UNIT * 40
    finally:
        await a.stop()
        await b.stop()


async def test_a_hold_not_renewed_for_half_its_ttl_is_not_spent_from_memory(
    registry: Registry, admin: Actor
) -> None:
    """Cut off from the database, a process must not spend a hold the others may soon see
    as lapsed: past half its TTL without renewal, a call resizes first (and fails while the
    database is unreachable); a heartbeat that renews the rows makes memory good again."""
    user = await registry.users.create(admin, UserCreate(email="u@example.com"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=UNIT * 100))
    keeper = CreditKeeper(registry.db, "replica-a")
    await keeper.reserve(user.id, UNIT)  # a hold with headroom for more calls
    account = keeper._accounts[user.id]
    syncs = keeper.syncs
    await keeper.reserve(user.id, UNIT)  # from memory
    assert keeper.syncs == syncs
    account.renew_by = 0.0  # as if no renewal had succeeded for half the TTL

    @asynccontextmanager
    async def unreachable() -> AsyncIterator[AsyncSession]:
        raise OSError("the database is unreachable")
        yield  # pragma: no cover

    real = keeper._session
    keeper._session = unreachable  # type: ignore[method-assign]
    with pytest.raises(OSError, match="unreachable"):
        await keeper.reserve(user.id, UNIT)
    keeper._session = real  # type: ignore[method-assign]
    await keeper.tick()  # the heartbeat renews every row of this process
    await keeper.reserve(user.id, UNIT)
    assert keeper.syncs == syncs + 1  # only the failed attempt went to the database
    await keeper.stop()


async def _listeners(registry: Registry) -> set[int]:
    """The backends of this database's credit LISTEN connections."""
    async with registry.db.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": giveback.APPLICATION},
        )
        return {pid for (pid,) in rows.all()}


async def _listening(*keepers: CreditKeeper) -> None:
    """Wait until each keeper's LISTEN connection is up (PostgreSQL)."""
    for keeper in keepers:
        for _ in range(1000):
            if keeper.giveback is None or keeper.giveback.listening:
                break
            await asyncio.sleep(0.01)
        assert keeper.giveback is None or keeper.giveback.listening


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
