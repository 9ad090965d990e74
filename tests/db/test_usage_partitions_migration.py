"""Migration 0010 on PostgreSQL: usage_events becomes partitioned by month, keeping every
row, every report's totals and every index; the downgrade gives the plain table back."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.db import partitions
from modelyard.db.tables import UsageEvent
from modelyard.registry.actors import Actor
from modelyard.registry.tx import Database
from modelyard.services import Registry
from modelyard.usage.report import UsageFilter
from modelyard.usage.writer import UsageWriter
from tests.support.pg_fresh import fresh_database, migrate
from tests.usage.test_recorder import usage_record

pytestmark = pytest.mark.postgres
OPERATOR = Actor.operator("test")
FIRST = datetime(2026, 7, 1, tzinfo=UTC)
FAR = datetime(2031, 5, 17, 8, 30, tzinfo=UTC)  # a clock far off: a month of its own too


@pytest.fixture(autouse=True)
def _postgres(pg_database: str | None) -> None:
    if pg_database is None:  # the session fixture fails instead in CI
        pytest.skip("PostgreSQL not available")


def _old_rows(count: int) -> list[dict[str, Any]]:
    rng = random.Random(10)
    rows = [
        usage_record(
            f"old-{n}",
            occurred_at=FIRST + timedelta(minutes=rng.randrange(60 * 24 * 160)),
            model_name=rng.choice(["a", "b"]),
            status=rng.choice(["ok", "error"]),
            cost=Decimal(rng.randrange(10**11)).scaleb(-10),
            client_request_id=f"c-{n % 7}",
        ).to_row()
        for n in range(count)
    ]
    return [*rows, usage_record("far", occurred_at=FAR).to_row()]


async def _reports(engine: AsyncEngine) -> dict[str, Any]:
    """What the reports answer over every row: totals by day and model, the daily roll-up
    series and the number of calls listed."""
    registry = Registry(Database(engine, keyring=None))
    totals = await registry.usage.totals(OPERATOR, UsageFilter(), ["day", "model"])
    series = await registry.usage_daily.series(OPERATOR, FIRST.date(), FAR.date() + timedelta(1))
    async with engine.connect() as conn:
        ids = set(await conn.scalars(text("SELECT request_id FROM usage_events")))
    return {
        "totals": [(t.day, t.model, t.calls, t.errors, t.cost, t.prompt_tokens) for t in totals],
        "series": [(s.day, s.calls, s.errors, s.cost) for s in series],
        "ids": ids,
    }


async def _placement(engine: AsyncEngine) -> list[tuple[str, datetime]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT tableoid::regclass::text, occurred_at FROM usage_events")
        )
        return [(str(r[0]), r[1]) for r in rows]


async def _indexes(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as conn:
        found = await conn.scalars(
            text("SELECT indexname FROM pg_indexes WHERE tablename = :t"), {"t": table}
        )
        return set(found)


async def test_upgrade_and_downgrade_keep_every_row_and_every_report() -> None:
    async with fresh_database("0008") as engine:
        rows = _old_rows(400)
        async with engine.begin() as conn:
            await conn.execute(insert(UsageEvent.__table__), rows)
        await migrate(engine, "0009")  # fills the roll-ups from the rows
        before = await _reports(engine)
        indexes_0009 = await _indexes(engine, "usage_events")
        assert len(before["ids"]) == 401

        await migrate(engine, "0010")
        assert await _reports(engine) == before
        for table, moment in await _placement(engine):  # each row in its month's partition
            assert table == partitions.name_of(partitions.month_of(moment))
        assert await _indexes(engine, "usage_events") == indexes_0009  # on the parent
        for name in ("usage_events_y2026m07", partitions.DEFAULT):  # ... and each partition
            assert len(await _indexes(engine, name)) == len(indexes_0009)

        await migrate(engine, "0009", down=True)
        assert await _reports(engine) == before
        assert await _indexes(engine, "usage_events") == indexes_0009
        async with engine.connect() as conn:
            kind = await conn.scalar(
                text("SELECT relkind::text FROM pg_class WHERE relname = 'usage_events'")
            )
            leftovers = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_class "
                    "WHERE relname LIKE 'usage_events_%' AND relkind IN ('r', 'p')"
                )
            )
        assert (kind, leftovers) == ("r", 0)


async def test_rows_are_routed_to_their_month_and_a_replay_is_stored_once() -> None:
    async with fresh_database() as engine:
        writer = UsageWriter(engine)
        this = partitions.month_of(datetime.now(UTC))
        moments = [
            datetime.now(UTC),
            datetime.combine(partitions.add_months(this, 1), datetime.min.time(), UTC),
            datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),  # no month: default
        ]
        rows = [usage_record(f"r{n}", occurred_at=at).to_row() for n, at in enumerate(moments)]
        refused, stored = await writer.write(rows)
        assert (refused, stored) == ([], {0, 1, 2})
        for _ in range(2):  # the outbox replays the same rows (same occurred_at): nothing new
            assert await writer.write(rows) == ([], set())
        placed = sorted(await _placement(engine), key=lambda p: p[1])
        assert [table for table, _ in placed] == [
            partitions.DEFAULT,
            partitions.name_of(this),
            partitions.name_of(partitions.add_months(this, 1)),
        ]
        async with engine.connect() as conn:
            calls = await conn.scalar(
                text("SELECT sum(calls) FROM usage_daily WHERE grain = 4")  # ALL: once each
            )
        assert calls == 3


def test_month_names_read_back() -> None:
    for month in (date(2026, 1, 1), date(2026, 12, 1), date(999, 9, 1)):
        assert partitions.month_named(partitions.name_of(month)) == month
    for name in ("usage_events_default", "usage_events_y2026m13", "usage_events_y2026m1x", "x"):
        assert partitions.month_named(name) is None
    assert partitions.add_months(date(2026, 12, 1), 1) == date(2027, 1, 1)
    assert partitions.add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)
