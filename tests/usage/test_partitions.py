"""Partition maintenance on PostgreSQL: months made ahead, rows waiting in the default
partition moved to their month, and retention that drops old months only once the daily
roll-ups hold them; one replica at a time, writers never held back for long nor failed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.db import partitions as ddl
from modelyard.db.engine import create_engine
from modelyard.db.tables import AuditEvent
from modelyard.errors import ValidationFailed
from modelyard.registry import audit
from modelyard.registry.actors import Actor
from modelyard.registry.system_settings import RETENTION_MONTHS, SystemSettings
from modelyard.registry.tx import Database
from modelyard.usage.daily import DailyUsage
from modelyard.usage.partitions import listing, maintain
from modelyard.usage.writer import UsageWriter
from tests.support.pg_fresh import fresh_database
from tests.usage.test_recorder import usage_record

pytestmark = pytest.mark.postgres
OPERATOR = Actor.operator("test")
TODAY = datetime(2026, 12, 15, 12, tzinfo=UTC)  # the clock the maintenance runs by
MONTHS = [date(2026, m, 1) for m in (8, 9, 10, 11, 12)]


@pytest.fixture(autouse=True)
def _postgres(pg_database: str | None) -> None:
    if pg_database is None:  # the session fixture fails instead in CI
        pytest.skip("PostgreSQL not available")


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    async with fresh_database() as engine:
        yield engine


def _db(engine: AsyncEngine, now: datetime = TODAY) -> Database:
    return Database(engine, keyring=None, clock=lambda: now)


def _calls(months: list[date], per_day: int = 2) -> list[dict[str, Any]]:
    """Calls on the 1st, 10th and last day of each month, at its first and last instants."""
    rows = []
    for month in months:
        start, end = ddl.bounds(month)
        for n, at in enumerate(
            (start, start + timedelta(days=9, hours=5), end - timedelta(microseconds=1))
        ):
            for k in range(per_day):
                rows.append(
                    usage_record(
                        f"{month:%Y%m}-{n}-{k}",
                        occurred_at=at,
                        model_name=("a", "b")[k % 2],
                        status=("ok", "error")[n % 2],
                    ).to_row()
                )
    return rows


async def _where(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM usage_events GROUP BY 1")
        )
        return {str(name): int(count) for name, count in rows}


async def _series(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    daily = DailyUsage(_db(engine))
    found = await daily.series(OPERATOR, MONTHS[0], TODAY.date() + timedelta(days=1))
    return [(s.day, s.calls, s.errors, s.cost, s.prompt_tokens) for s in found]


async def _set_retention(engine: AsyncEngine, months: int | None) -> None:
    await SystemSettings(_db(engine)).set(OPERATOR, RETENTION_MONTHS, months)


async def test_this_month_and_the_next_three_are_made_once(engine: AsyncEngine) -> None:
    later = datetime(2027, 11, 3, tzinfo=UTC)
    first = await maintain(_db(engine, later))
    expected = [
        ddl.name_of(date(y, m, 1)) for y, m in ((2027, 11), (2027, 12), (2028, 1), (2028, 2))
    ]
    assert (first.ran, first.created, first.dropped) == (True, expected, [])
    again = await maintain(_db(engine, later))
    assert (again.ran, again.created) == (True, [])
    names = {v.name for v in await listing(_db(engine))}
    assert set(expected) <= names
    rows = [usage_record("late-2027", occurred_at=later).to_row()]
    await UsageWriter(engine).write(rows)
    assert await _where(engine) == {ddl.name_of(date(2027, 11, 1)): 1}


async def test_rows_in_the_default_partition_move_to_their_month(engine: AsyncEngine) -> None:
    rows = _calls([date(2031, 3, 1)])  # a clock far off: no month holds them yet
    writer = UsageWriter(engine)
    await writer.write(rows)
    assert await _where(engine) == {ddl.DEFAULT: len(rows)}
    done = await maintain(_db(engine))
    assert ddl.name_of(date(2031, 3, 1)) in done.created
    assert await _where(engine) == {"usage_events_y2031m03": len(rows)}
    assert await writer.write(rows) == ([], set())  # the moved rows' keys hold there too


async def test_retention_drops_old_months_once_their_rollups_hold_them(
    engine: AsyncEngine,
) -> None:
    rows = _calls(MONTHS)
    await UsageWriter(engine).write(rows)
    await maintain(_db(engine))  # August to November leave the default partition
    before = await _series(engine)
    await _set_retention(engine, 2)  # keep October, November and December

    done = await maintain(_db(engine))
    assert [(d.name, d.rows, d.refilled_days) for d in done.dropped] == [
        ("usage_events_y2026m08", 6, []),
        ("usage_events_y2026m09", 6, []),
    ]
    placed = await _where(engine)
    assert set(placed) == {ddl.name_of(m) for m in MONTHS[2:]}
    assert sum(placed.values()) == len(rows) - 12
    assert await _series(engine) == before  # the dropped months' days included
    async with engine.connect() as conn:
        found = await conn.execute(
            select(AuditEvent.action, AuditEvent.entity_id, AuditEvent.before)
            .where(AuditEvent.entity_type == "usage_partition")
            .order_by(AuditEvent.id)
        )
    drops = [tuple(r) for r in found]
    assert drops == [
        ("usage.partition_dropped", "usage_events_y2026m08", {"month": "2026-08", "rows": 6}),
        ("usage.partition_dropped", "usage_events_y2026m09", {"month": "2026-09", "rows": 6}),
    ]
    async with _db(engine).read(OPERATOR) as tx:
        assert (await audit.verify_chain(tx.session)).ok
    assert (await maintain(_db(engine))).dropped == []  # nothing left to drop


async def test_a_late_row_of_a_dropped_month_keeps_the_months_rollups(
    engine: AsyncEngine,
) -> None:
    """A call replayed after its month was dropped lands in the default partition, and the
    writer adds it to the roll-ups. The next run must not make that month again (its drop
    would check the roll-ups against the one late row and take the month's other days out):
    the row is deleted, and the roll-ups keep the month's totals plus the late call."""
    writer = UsageWriter(engine)
    await writer.write(_calls(MONTHS))
    await maintain(_db(engine))
    await _set_retention(engine, 2)
    await maintain(_db(engine))  # August and September dropped
    late_at = datetime(2026, 8, 20, 8, tzinfo=UTC)
    await writer.write([usage_record("late-august", occurred_at=late_at).to_row()])
    with_late = await _series(engine)
    assert await _where(engine) == {
        **{ddl.name_of(m): 6 for m in MONTHS[2:]},
        ddl.DEFAULT: 1,
    }
    assert [d for d, *_ in with_late if d.month == 8] == [
        date(2026, 8, 1),
        date(2026, 8, 10),
        date(2026, 8, 20),
        date(2026, 8, 31),
    ]

    done = await maintain(_db(engine))
    assert done.created == []
    assert done.dropped == []
    assert done.discarded == ["usage_events_y2026m08"]
    assert ddl.DEFAULT not in await _where(engine)
    assert await _series(engine) == with_late  # August's days all kept, the late call too


async def test_rollups_that_differ_from_the_rows_are_refilled_before_the_drop(
    engine: AsyncEngine,
) -> None:
    await UsageWriter(engine).write(_calls(MONTHS[:2]))
    await maintain(_db(engine))
    before = await _series(engine)
    wrong = date(2026, 8, 10)
    async with engine.begin() as conn:  # a roll-up gone wrong, at every grain of one day
        await conn.execute(
            text(
                "UPDATE usage_daily SET calls = calls + 5, cost_whole = cost_whole + 1 "
                "WHERE day = :d"
            ),
            {"d": wrong},
        )
    assert await _series(engine) != before
    await _set_retention(engine, 3)  # keep September to December

    done = await maintain(_db(engine))
    assert [(d.name, d.refilled_days) for d in done.dropped] == [("usage_events_y2026m08", [wrong])]
    assert await _series(engine) == before  # what the rows summed


async def test_writers_keep_writing_while_maintenance_runs(engine: AsyncEngine) -> None:
    await UsageWriter(engine).write(_calls(MONTHS[:2]))
    await _set_retention(engine, 2)
    written: list[str] = []
    stop = asyncio.Event()

    async def write(prefix: str, moment: Callable[[int], datetime]) -> None:
        writer = UsageWriter(engine, timeout_s=60)
        n = 0
        while not stop.is_set():
            batch = [
                usage_record(f"{prefix}-{n}-{k}", occurred_at=moment(n)).to_row() for k in range(20)
            ]
            refused, stored = await writer.write(batch)
            assert (refused, len(stored)) == ([], 20)
            written.extend(r["request_id"] for r in batch)
            n += 1
            await asyncio.sleep(0)

    def now(n: int) -> datetime:
        return TODAY + timedelta(seconds=n)

    def far(n: int) -> datetime:  # months no partition holds until maintenance makes them
        return datetime(2030 + n % 3, n % 12 + 1, 2, tzinfo=UTC)

    writers = [asyncio.create_task(write("now", now)), asyncio.create_task(write("far", far))]
    try:
        for months_on in range(3):  # to February: December's calls are kept
            await maintain(_db(engine, TODAY + timedelta(days=31 * months_on)))
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert len(written) > 0
    async with engine.connect() as conn:
        stored = set(await conn.scalars(text("SELECT request_id FROM usage_events")))
    assert set(written) <= stored


async def test_two_replicas_maintaining_at_once_do_the_work_once(engine: AsyncEngine) -> None:
    await UsageWriter(engine).write(_calls(MONTHS))
    await _set_retention(engine, 1)
    other = create_engine(engine.url.render_as_string(hide_password=False))
    try:
        runs = await asyncio.gather(maintain(_db(engine)), maintain(_db(other)))
    finally:
        await other.dispose()
    created = [name for run in runs for name in run.created]
    dropped = [d.name for run in runs for d in run.dropped]
    assert len(created) == len(set(created))
    assert sorted(dropped) == [
        "usage_events_y2026m08",
        "usage_events_y2026m09",
        "usage_events_y2026m10",
    ]
    async with engine.connect() as conn:
        audited = await conn.scalar(
            text("SELECT count(*) FROM audit_events WHERE action = 'usage.partition_dropped'")
        )
    assert audited == 3


@pytest.mark.parametrize("value", [0, -1, 1201, 1.5, "3", True, "forever", [2], {"months": 2}])
def test_hostile_retention_values_are_refused_naming_the_setting(value: Any) -> None:
    from modelyard.registry.system_settings import validate_value

    with pytest.raises(ValidationFailed) as raised:
        validate_value(RETENTION_MONTHS, value)
    assert RETENTION_MONTHS in str(raised.value.details) + str(raised.value)


async def test_a_long_reader_makes_the_drop_wait_for_the_next_run_not_the_writers(
    engine: AsyncEngine,
) -> None:
    await UsageWriter(engine).write(_calls(MONTHS[:1]))
    await maintain(_db(engine))
    await _set_retention(engine, 2)
    async with engine.connect() as reader:  # a report reading August, in a long transaction
        await reader.execute(text("SELECT count(*) FROM usage_events_y2026m08"))
        done = await maintain(_db(engine))
        assert (done.dropped, done.waited) == ([], ["usage_events_y2026m08"])
        now = [usage_record("meanwhile", occurred_at=TODAY).to_row()]
        assert await UsageWriter(engine).write(now) == ([], {0})
    assert await _where(engine) == {"usage_events_y2026m08": 6, "usage_events_y2026m12": 1}
    done = await maintain(_db(engine))  # the reader is gone: the next run drops it
    assert [d.name for d in done.dropped] == ["usage_events_y2026m08"]


async def test_a_detached_month_that_is_kept_after_all_is_attached_again(
    engine: AsyncEngine,
) -> None:
    rows = _calls(MONTHS[:1])
    await UsageWriter(engine).write(rows)
    await maintain(_db(engine))
    async with engine.begin() as conn:  # a run stopped after its detach; retention unset since
        await conn.execute(text("ALTER TABLE usage_events DETACH PARTITION usage_events_y2026m08"))
    late = [usage_record("late", occurred_at=datetime(2026, 8, 20, tzinfo=UTC)).to_row()]
    await UsageWriter(engine).write(late)  # into the default partition meanwhile
    views = {v.name: v.attached for v in await listing(_db(engine))}
    assert views["usage_events_y2026m08"] is False
    done = await maintain(_db(engine))
    assert "usage_events_y2026m08" in done.created
    assert await _where(engine) == {"usage_events_y2026m08": len(rows) + 1}
    assert await UsageWriter(engine).write(rows) == ([], set())  # its keys hold again
