"""Usage totals read from the daily roll-ups equal, every field to the last digit, the totals
summed from the calls one by one (``totals_from_calls``, the reference), on both engines:
random ranges, groups, filters and callers over calls with several currencies, unpriced
calls, errors, huge and ten-decimal amounts, calls at midnight and a purged user; and the
edges named one by one (midnight, mid-day, empty, one day, unbounded)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from itertools import combinations
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, insert

from modelyard.db.rollup import NO_USER
from modelyard.db.tables import UsageEvent
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.usage.report import GROUPS, Group, UsageFilter
from modelyard.usage.span import Span, midnight, rest_of_day, split
from modelyard.usage.writer import UsageWriter
from tests.usage.test_daily import DAYS, FIRST, _calls, _member
from tests.usage.test_recorder import usage_record

ALL_GROUPS: list[tuple[Group, ...]] = [
    c for n in range(1, len(GROUPS) + 1) for c in combinations(GROUPS, n)
]
START = midnight(FIRST)


def _instant(rng: random.Random) -> datetime | None:
    """None, a midnight, a moment just around one, or any moment of the calls' days and a
    day either side."""
    day = START + timedelta(days=rng.randrange(-1, DAYS + 2))
    return rng.choice(
        [
            None,
            day,
            day + timedelta(microseconds=1),
            day - timedelta(microseconds=1),
            day + timedelta(seconds=rng.randrange(86_400), microseconds=rng.randrange(10**6)),
        ]
    )


async def _expect_same(registry: Registry, actor: Actor, f: UsageFilter, groups: Any) -> None:
    got = await registry.usage.totals(actor, f, groups)
    want = await registry.usage.totals_from_calls(actor, f, groups)
    assert got == want, (f, groups)
    assert [t.model_dump() for t in got] == [t.model_dump() for t in want]  # Decimal digits
    assert [str(t.cost) for t in got] == [str(t.cost) for t in want]


async def _stored(registry: Registry, admin: Actor, n: int) -> tuple[Actor, Actor]:
    alice = await _member(registry, admin, "alice@example.com")
    bob = await _member(registry, admin, "bob@example.com")
    calls = _calls(random.Random(17), [alice.user_id, bob.user_id, admin.user_id, None], n)
    writer = UsageWriter(registry.db.engine)
    for start in range(0, len(calls), 200):
        refused, _ = await writer.write([c.to_row() for c in calls[start : start + 200]])
        assert refused == []
    return alice, bob


async def test_random_reports_equal_the_calls_summed_one_by_one(
    registry: Registry, admin: Actor
) -> None:
    alice, bob = await _stored(registry, admin, 900)
    assert bob.user_id is not None
    await registry.users.purge(admin, bob.user_id)  # his calls and roll-ups lose their user
    rng = random.Random(1717)
    for n in range(160):
        since, until = _instant(rng), _instant(rng)
        if since is not None and until is not None and since > until:
            since, until = until, since
        filters: dict[str, Any] = {"since": since, "until": until}
        if rng.random() < 0.3:
            filters["user_id"] = rng.choice([alice.user_id, admin.user_id, bob.user_id])
        if rng.random() < 0.3:
            filters["model"] = rng.choice(["m-a", "m-b", "nothing"])
        if rng.random() < 0.3:
            filters["provider"] = rng.choice(["p-1", "p-2"])
        actor = admin if n % 3 else alice
        await _expect_same(registry, actor, UsageFilter(**filters), rng.choice(ALL_GROUPS))


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (START, START + timedelta(days=DAYS)),  # whole days only
        (START + timedelta(hours=7), START + timedelta(days=3, hours=5)),  # mid-day both ends
        (START + timedelta(hours=7), START + timedelta(hours=9)),  # within one day
        (START + timedelta(hours=23), START + timedelta(days=1, hours=1)),  # across a midnight
        (START + timedelta(days=2), START + timedelta(days=2)),  # empty
        (START + timedelta(days=2), START + timedelta(days=3)),  # exactly one day
        (None, START + timedelta(days=2, hours=12)),
        (START + timedelta(days=2, seconds=1), None),
        (None, None),
        (START - timedelta(days=30), START - timedelta(days=1)),  # before every call
    ],
)
async def test_edges_equal_the_calls_summed_one_by_one(
    registry: Registry, admin: Actor, since: datetime | None, until: datetime | None
) -> None:
    alice, _ = await _stored(registry, admin, 300)
    for groups in ALL_GROUPS:
        await _expect_same(registry, admin, UsageFilter(since=since, until=until), groups)
    await _expect_same(registry, alice, UsageFilter(since=since, until=until), ("day", "model"))


async def test_what_the_rollups_cannot_answer_comes_from_the_calls(
    registry: Registry, admin: Actor
) -> None:
    """A caller's own request id, an empty name, the no-user key: never the roll-ups' rows
    (which lump calls without a user or name together)."""
    at = datetime(2026, 11, 3, 12, tzinfo=UTC)
    rows = [
        usage_record("r1", occurred_at=at, client_request_id="mine"),
        usage_record("r2", occurred_at=at, client_request_id="theirs", model_name=None),
        usage_record("r3", occurred_at=at, user_id=None, currency=None, cost=None),
    ]
    await UsageWriter(registry.db.engine).write([r.to_row() for r in rows])
    day = UsageFilter(since=midnight(at.date()), until=midnight(at.date() + timedelta(1)))
    for extra in ({"client_request_id": "mine"}, {"model": ""}, {"user_id": NO_USER}, {}):
        f = day.model_copy(update=extra)
        for groups in (("day",), ("user", "model")):
            await _expect_same(registry, admin, f, groups)
    mine = await registry.usage.totals(admin, day.model_copy(update={"client_request_id": "mine"}))
    assert [t.calls for t in mine] == [1]
    assert await registry.usage.totals(admin, day.model_copy(update={"model": ""})) == []


async def test_whole_days_are_read_from_the_rollups(registry: Registry, admin: Actor) -> None:
    """Calls whose month was detached (their roll-ups kept) still count in whole days; a
    partial day reads the calls (or, past half a day, its roll-ups less the calls outside)."""
    at = datetime(2026, 11, 3, 12, tzinfo=UTC)
    rows = [usage_record(f"c{n}", occurred_at=at + timedelta(days=n)) for n in range(3)]
    await UsageWriter(registry.db.engine).write([r.to_row() for r in rows])
    async with registry.db.engine.begin() as conn:
        await conn.execute(delete(UsageEvent))
    whole = UsageFilter(since=midnight(at.date()), until=midnight(at.date() + timedelta(3)))
    assert [t.calls for t in await registry.usage.totals(admin, whole, ["day"])] == [1, 1, 1]
    partial = whole.model_copy(update={"since": at + timedelta(hours=1)})  # 11 h of day one
    assert [t.day for t in await registry.usage.totals(admin, partial, ["day"])] == [
        date(2026, 11, 4),
        date(2026, 11, 5),
    ]
    # 13 h of day one: its roll-ups less the calls of its first 11 h (none left here).
    longer = whole.model_copy(update={"since": at - timedelta(hours=1)})
    assert [t.calls for t in await registry.usage.totals(admin, longer, ["day"])] == [1, 1, 1]


@pytest.mark.parametrize(
    ("since", "until", "days", "edges"),
    [
        ("2026-11-01T00:00", "2026-11-03T00:00", ("2026-11-01", "2026-11-03"), []),
        (
            "2026-11-01T06:00",
            "2026-11-03T06:00",
            ("2026-11-02", "2026-11-03"),
            [("2026-11-01T06:00", "2026-11-02T00:00"), ("2026-11-03T00:00", "2026-11-03T06:00")],
        ),
        ("2026-11-01T06:00", "2026-11-02T03:00", None, [("2026-11-01T06:00", "2026-11-02T03:00")]),
        ("2026-11-01T06:00", "2026-11-02T00:00", None, [("2026-11-01T06:00", "2026-11-02T00:00")]),
        ("2026-11-01T00:00", "2026-11-01T00:00", None, [("2026-11-01T00:00", "2026-11-01T00:00")]),
        (
            None,
            "2026-11-02T05:00",
            (None, "2026-11-02"),
            [("2026-11-02T00:00", "2026-11-02T05:00")],
        ),
        (
            "2026-11-01T23:00",
            None,
            ("2026-11-02", None),
            [("2026-11-01T23:00", "2026-11-02T00:00")],
        ),
        (None, None, (None, None), []),
    ],
)
def test_a_range_is_cut_into_whole_days_and_edges(
    since: str | None, until: str | None, days: Any, edges: list[tuple[str, str]]
) -> None:
    def at(text: str | None) -> datetime | None:
        return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)

    whole = None if days is None else tuple(d and date.fromisoformat(d) for d in days)
    expected = Span(whole, tuple((at(a), at(b)) for a, b in edges))
    assert split(at(since), at(until)) == expected


def test_a_range_in_another_zone_is_cut_at_utc_midnights() -> None:
    since = datetime(2026, 11, 1, 11, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 02:00 UTC
    cut = split(since, None)
    assert cut.days == (date(2026, 11, 2), None)
    assert cut.edges == ((datetime(2026, 11, 1, 2, tzinfo=UTC), midnight(date(2026, 11, 2))),)


@pytest.mark.parametrize(
    ("since", "until", "rest"),
    [
        ("2026-11-01T06:00", "2026-11-02T00:00", [("2026-11-01T00:00", "2026-11-01T06:00")]),
        ("2026-11-01T00:00", "2026-11-01T20:00", [("2026-11-01T20:00", "2026-11-02T00:00")]),
        (
            "2026-11-01T01:00",
            "2026-11-01T23:00",
            [("2026-11-01T00:00", "2026-11-01T01:00"), ("2026-11-01T23:00", "2026-11-02T00:00")],
        ),
        ("2026-11-01T18:00", "2026-11-02T00:00", None),  # a quarter of the day: read it
        ("2026-11-01T00:00", "2026-11-01T12:00", None),  # half: read it
        ("2026-11-01T20:00", "2026-11-02T19:00", None),  # across a midnight
    ],
)
def test_an_edge_longer_than_half_a_day_is_the_day_less_the_rest(
    since: str, until: str, rest: list[tuple[str, str]] | None
) -> None:
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    expected = None if rest is None else (date(2026, 11, 1), tuple((at(a), at(b)) for a, b in rest))
    assert rest_of_day((at(since), at(until))) == expected
    assert rest_of_day((None, at(until))) is None


async def test_calls_without_their_rollups_in_a_days_rest_never_fail_a_report(
    registry: Registry, admin: Actor
) -> None:
    """Calls stored without their roll-ups (a data bug: the writer stores both in one
    transaction) outside the range, in the day's rest: taking them from the day's roll-ups
    would fail or go below zero; the edge is read itself instead."""
    at = datetime(2026, 11, 3, 12, tzinfo=UTC)
    await UsageWriter(registry.db.engine).write(
        [usage_record("in", occurred_at=at - timedelta(hours=6)).to_row()]
    )
    late = usage_record("late", occurred_at=at + timedelta(hours=9), model_name="m-late")
    async with registry.db.engine.begin() as conn:
        await conn.execute(insert(UsageEvent).values(late.to_row()))  # no roll-up
    f = UsageFilter(since=midnight(at.date()) + timedelta(hours=1), until=at + timedelta(hours=8))
    for groups in (("model",), ("day", "model")):
        await _expect_same(registry, admin, f, groups)
    assert [t.calls for t in await registry.usage.totals(admin, f, ["model"])] == [1]
