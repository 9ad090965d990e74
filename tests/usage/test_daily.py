"""Daily roll-ups: written with the calls by the real usage writer, they give the same totals
as the usage report reading the calls themselves, to the last digit, on both engines:
several currencies and unpriced calls, ten-decimal and huge amounts, errors, replays, a row
refused, a user purged, members and admins."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from modelyard.db.rollup import join, split
from modelyard.db.rollup_backfill import backfill
from modelyard.db.rollup_tables import UsageDaily
from modelyard.db.tables import UsageEvent
from modelyard.errors import ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.scopes import SCOPES
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.usage.daily import TopTotal
from modelyard.usage.record import UsageRecord
from modelyard.usage.report import UsageFilter
from modelyard.usage.writer import UsageWriter
from tests.usage.test_recorder import usage_record

FIRST = date(2026, 9, 29)  # the calls span two whole months and parts of two more
DAYS = 66
HUGE = Decimal("9999999999.9999999999")  # the largest amount a usage row holds


def _amount(rng: random.Random) -> Decimal:
    if rng.random() < 0.01:
        return HUGE
    return Decimal(rng.randrange(0, 10**12)).scaleb(-10)


def _calls(rng: random.Random, users: list[uuid.UUID | None], n: int) -> list[UsageRecord]:
    out = []
    for i in range(n):
        day = FIRST + timedelta(days=rng.randrange(DAYS))
        edge = rng.choice([time(0, 0), time(23, 59, 59, 999999), None])
        at = edge or time(rng.randrange(24), rng.randrange(60), rng.randrange(60))
        currency = rng.choice(["USD", "USD", "EUR", None])
        if day == FIRST + timedelta(days=2) and currency == "EUR":  # a day in one currency:
            currency = "USD"  # its unpriced calls join it
        priced = currency is not None
        out.append(
            usage_record(
                f"call-{i}",
                occurred_at=datetime.combine(day, at, UTC),
                user_id=rng.choice(users),
                model_name=rng.choice(["m-a", "m-b", "m-c", None]),
                provider_name=rng.choice(["p-1", "p-2", None]),
                status=rng.choice(["ok", "ok", "ok", "error", "aborted"]),
                prompt_tokens=rng.randrange(0, 100_000),
                completion_tokens=rng.randrange(0, 10_000),
                cached_tokens=rng.randrange(0, 1000),
                latency_ms=rng.randrange(1, 30_000),
                currency=currency,
                cost=_amount(rng) if priced else None,
                credits=_amount(rng) if priced and rng.random() < 0.5 else None,
            )
        )
    return out


async def _member(registry: Registry, admin: Actor, email: str) -> Actor:
    user = await registry.users.create(admin, UserCreate(email=email))
    return Actor.user(user.id, "member", email, frozenset(SCOPES))


def _range(since: date, until: date, **filters: Any) -> UsageFilter:
    start = datetime.combine(since, time(0), UTC)
    end = start + timedelta(days=(until - since).days + 1)
    return UsageFilter(since=start, until=end, **filters)


async def _expect_same_series(
    registry: Registry, actor: Actor, since: date, until: date, **filters: Any
) -> None:
    """series (at whichever grain it reads) equals the report with the same filters."""
    series = await registry.usage_daily.series(actor, since, until, **filters)
    by_day = await registry.usage.totals_from_calls(actor, _range(since, until, **filters), ["day"])
    fields = ("day", "calls", "errors", "prompt_tokens", "completion_tokens", "cost")
    assert series, f"the range holds calls for {filters}"
    assert [(*(getattr(t, f) for f in fields), t.currency, t.credits) for t in series] == [
        (*(getattr(t, f) for f in fields), t.currency, t.credits) for t in by_day
    ]


async def _expect_same(registry: Registry, actor: Actor, since: date, until: date) -> None:
    """series, top and totals equal the usage report over the same range."""
    daily, report = registry.usage_daily, registry.usage
    series = await daily.series(actor, since, until)
    by_day = await report.totals_from_calls(actor, _range(since, until), ["day"])
    fields = ("calls", "errors", "prompt_tokens", "completion_tokens", "cost", "currency")
    assert series, "the range holds calls"
    assert [(t.day, *(getattr(t, f) for f in fields), t.credits) for t in series] == [
        (t.day, *(getattr(t, f) for f in fields), t.credits) for t in by_day
    ]
    for by in ("model", "provider", "user"):
        top = await daily.top(actor, by, since, until, limit=1000)
        grouped = await report.totals_from_calls(actor, _range(since, until), [by])
        expected = [_as_top(t, by) for t in grouped]
        expected.sort(
            key=lambda t: (-t.cost, -t.calls, t.key is None, t.key or "", t.currency or "")
        )
        assert top == expected
        assert await daily.top(actor, by, since, until, limit=2) == expected[:2]
    # Over the whole range (unpriced calls join a currency only if the range has just one).
    totals = await daily.totals(actor, since, until)
    for name in ("calls", "errors", "cached_tokens", "latency_ms_total"):
        assert sum(getattr(t, name) for t in totals) == sum(getattr(t, name) for t in series)
    for total in totals:
        same = [t for t in series if t.currency == total.currency]
        assert total.cost == sum((t.cost for t in same), Decimal(0))  # unpriced calls cost 0
    # What the report does not sum, against the calls themselves.
    start, end = _range(since, until).since, _range(since, until).until
    query = select(
        func.coalesce(func.sum(UsageEvent.cached_tokens), 0),
        func.coalesce(func.sum(UsageEvent.latency_ms), 0),
    ).where(UsageEvent.occurred_at >= start, UsageEvent.occurred_at < end)
    if not actor.is_admin:
        query = query.where(UsageEvent.user_id == actor.user_id)
    async with registry.db.engine.connect() as conn:
        cached, latency = (await conn.execute(query)).one()
    assert sum(t.cached_tokens for t in series) == cached
    assert sum(t.latency_ms_total for t in series) == latency


def _as_top(t: Any, by: str) -> TopTotal:
    key = {"model": t.model, "provider": t.provider, "user": t.user_id}[by]
    return TopTotal(
        key=None if key is None else str(key),
        label=t.user_email if by == "user" else None,
        calls=t.calls,
        errors=t.errors,
        prompt_tokens=t.prompt_tokens,
        completion_tokens=t.completion_tokens,
        cost=t.cost,
        currency=t.currency,
        credits=t.credits,
    )


async def _stored_rollups(registry: Registry) -> list[Any]:
    async with registry.db.engine.connect() as conn:
        query = select(UsageDaily.__table__).order_by(*UsageDaily.__table__.primary_key)
        return [tuple(r) for r in await conn.execute(query)]


async def test_rollups_equal_the_report_through_replays_refusals_and_a_purge(
    registry: Registry, admin: Actor
) -> None:
    alice = await _member(registry, admin, "alice@example.com")
    bob = await _member(registry, admin, "bob@example.com")
    rng = random.Random(16)
    calls = _calls(rng, [alice.user_id, bob.user_id, admin.user_id, None], 1200)
    writer = UsageWriter(registry.db.engine)
    for start in range(0, len(calls), 150):
        refused, stored = await writer.write([c.to_row() for c in calls[start : start + 150]])
        assert (refused, len(stored)) == ([], len(calls[start : start + 150]))
    # Replayed (an outbox line written twice), a request id twice in a batch, and a row the
    # database refuses in a batch then stored row by row: each stored row counts once.
    replay = [c.to_row() for c in calls[:100]] + [calls[5].to_row()]
    assert await writer.write(replay) == ([], set())
    poison = usage_record("poison", occurred_at=calls[0].occurred_at, meta={"bad": {1, 2}})
    late = [dataclasses.replace(c, request_id=f"late-{n}") for n, c in enumerate(calls[:20])]
    batch = [late[0], poison, *late[1:], late[3]]
    refused, stored = await writer.write([c.to_row() for c in batch])
    assert refused == [1]
    assert len(stored) == 20

    since, until = FIRST + timedelta(days=1), FIRST + timedelta(days=DAYS - 2)
    for actor in (admin, alice, bob):
        await _expect_same(registry, actor, since, until)
        await _expect_same(registry, actor, FIRST, FIRST + timedelta(days=DAYS))
    for filters in (
        {"user_id": alice.user_id},
        {"model": "m-a"},
        {"provider": "p-2"},
        {"model": "m-b", "provider": "p-1"},
        {"user_id": bob.user_id, "model": "m-c"},
        {"user_id": alice.user_id, "provider": "p-1"},
    ):
        await _expect_same_series(registry, admin, since, until, **filters)
        await _expect_same_series(registry, alice, since, until, **filters)

    # Bob is purged: his calls and roll-ups lose their user; a call of his still in flight
    # is stored without it (unlinked) and counted there too.
    assert bob.user_id is not None
    await registry.users.purge(admin, bob.user_id)
    stale = dataclasses.replace(calls[1], request_id="in-flight", user_id=bob.user_id)
    assert (await writer.write([stale.to_row()]))[0] == []
    for actor in (admin, alice):
        await _expect_same(registry, actor, FIRST, FIRST + timedelta(days=DAYS))
    assert await registry.usage_daily.series(bob, FIRST, FIRST + timedelta(days=DAYS)) == []
    await _expect_same_series(registry, admin, since, until, model="m-a")
    tops = await registry.usage_daily.top(admin, "user", FIRST, FIRST + timedelta(days=DAYS))
    assert str(bob.user_id) not in {t.key for t in tops}

    # The migration's backfill, from the calls alone, makes the very same roll-ups.
    before = await _stored_rollups(registry)
    async with registry.db.engine.begin() as conn:
        await conn.execute(delete(UsageDaily))
        added = await conn.run_sync(lambda sync: backfill(sync, batch=97))
    async with registry.db.engine.connect() as conn:
        assert added == await conn.scalar(select(func.count()).select_from(UsageEvent))
    assert await _stored_rollups(registry) == before


async def test_members_see_only_their_own_and_admins_pick_a_user(
    registry: Registry, admin: Actor
) -> None:
    alice = await _member(registry, admin, "alice@example.com")
    bob = await _member(registry, admin, "bob@example.com")
    day = datetime(2026, 11, 3, 12, tzinfo=UTC)
    rows = [
        usage_record("a1", occurred_at=day, user_id=alice.user_id, cost=Decimal("0.1")),
        usage_record("a2", occurred_at=day, user_id=alice.user_id, model_name="other"),
        usage_record("b1", occurred_at=day, user_id=bob.user_id, cost=Decimal("5")),
    ]
    await UsageWriter(registry.db.engine).write([r.to_row() for r in rows])
    d = day.date()
    daily = registry.usage_daily
    # A member's own, whoever they ask for; an admin's view of everyone, or of one user.
    assert [t.calls for t in await daily.series(alice, d, d, user_id=bob.user_id)] == [2]
    assert [t.calls for t in await daily.series(admin, d, d)] == [3]
    assert [t.cost for t in await daily.series(admin, d, d, user_id=bob.user_id)] == [5]
    assert [t.calls for t in await daily.series(admin, d, d, model="other")] == [1]
    assert [t.calls for t in await daily.series(admin, d, d, provider="nowhere")] == []
    assert [(t.key, t.label) for t in await daily.top(alice, "user", d, d)] == [
        (str(alice.user_id), "alice@example.com")
    ]
    assert [t.key for t in await daily.top(admin, "user", d, d)] == [
        str(bob.user_id),
        str(alice.user_id),
    ]
    assert [t.key for t in await daily.top(admin, "model", d, d, limit=1)] == ["gpt-4o-mini"]
    (total,) = await daily.totals(alice, d, d)
    assert (total.calls, total.cost, total.latency_ms_total) == (2, Decimal("0.10027"), 70)
    assert await daily.series(admin, d + timedelta(days=1), d + timedelta(days=9)) == []


async def test_bad_ranges_and_limits_are_refused(registry: Registry, admin: Actor) -> None:
    d = date(2026, 11, 3)
    with pytest.raises(ValidationFailed):
        await registry.usage_daily.series(admin, d, d - timedelta(days=1))
    for limit in (0, 10**6):
        with pytest.raises(ValidationFailed):
            await registry.usage_daily.top(admin, "model", d, d, limit=limit)
    with pytest.raises(ValidationFailed):
        await registry.usage_daily.top(admin, "day", d, d)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "amount",
    ["0", "0.0000000001", "1.5", "9999999999.9999999999", "-0.25", "-3", "123.456"],
)
def test_an_amount_splits_into_parts_that_join_back(amount: str) -> None:
    whole, frac = split(Decimal(amount))
    assert 0 <= frac < 10**10
    assert join(whole, frac) == Decimal(amount)


async def test_concurrent_writers_add_the_same_rollups_without_deadlock(
    registry: Registry, admin: Actor
) -> None:
    """Six writers at once, each its own transaction over the same days, users, models and
    providers (rows in a different order each): each locks the roll-up rows in key order, so
    none deadlocks, and the roll-ups (daily, pairs, monthly) equal the calls."""
    alice = await _member(registry, admin, "alice@example.com")
    calls = _calls(random.Random(61), [alice.user_id, admin.user_id, None], 1800)
    batches = [calls[n::6] for n in range(6)]
    for n, batch in enumerate(batches):
        random.Random(n).shuffle(batch)

    async def write(batch: list[UsageRecord]) -> None:
        refused, stored = await UsageWriter(registry.db.engine).write([c.to_row() for c in batch])
        assert (refused, len(stored)) == ([], len(batch))

    await asyncio.gather(*(write(batch) for batch in batches))
    await _expect_same(registry, admin, FIRST, FIRST + timedelta(days=DAYS))
    await _expect_same(registry, alice, FIRST + timedelta(days=3), FIRST + timedelta(days=40))
    before = await _stored_rollups(registry)
    async with registry.db.engine.begin() as conn:  # what the calls alone make
        await conn.execute(delete(UsageDaily))
        await conn.run_sync(backfill)
    assert await _stored_rollups(registry) == before
