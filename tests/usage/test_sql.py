"""The usage writer's one-parameter INSERT stores exactly what SQLAlchemy's own insert of the
same row stores, column by column, on both engines; a value its column cannot hold is
refused before the database is asked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import Table, event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.db.engine import create_engine
from modelyard.db.tables import UsageEvent
from modelyard.usage.sql import RowRefused, bulk_insert
from tests.usage.test_recorder import add_user, usage_record


def _table() -> Table:
    table = UsageEvent.__table__
    assert isinstance(table, Table)
    return table


TABLE = _table()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def full_row(request_id: str, refs: dict[str, uuid.UUID]) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "client_request_id": "the caller's own id",
        # not UTC, and microseconds that end in zeros: both must be stored as SQLAlchemy does
        "occurred_at": datetime(2026, 3, 1, 9, 30, 0, 120000, tzinfo=timezone(timedelta(hours=2))),
        "api_key_id": None,
        "provider_id": None,
        "model_id": None,
        "price_id": None,
        **refs,
        "provider_name": "openai",
        "model_name": "gpt-4o-mini",
        "operation": "function_call",
        "prompt_tokens": 1_000_000,
        "completion_tokens": 7,
        "cached_tokens": 0,
        "cache_write_tokens": 2_000_000_000,
        "estimated": True,
        "latency_ms": 35,
        "ttft_ms": 12,
        "attempts": 3,
        "status": "aborted",
        "error_code": "UPSTREAM_TIMEOUT",
        "input_per_mtok": Decimal("0.15"),
        "output_per_mtok": Decimal("1E+1"),
        "cached_input_per_mtok": Decimal("0.0750000000"),
        "cache_write_per_mtok": Decimal("3.75"),
        "currency": "USD",
        "cost": Decimal("0.0000000001"),
        "credits": Decimal("12345678.9"),
        "charged_credits": Decimal("0.000042"),
        "metadata": {"client": "sdk", "note": 'é "quoted" ☃', "nested": {"a": [1, 2.5, None]}},
    }


def empty_row(request_id: str) -> dict[str, Any]:
    """A row as the recorder hands it over, with every optional column empty."""
    return usage_record(
        request_id,
        occurred_at=datetime(2026, 3, 1, tzinfo=UTC),  # no microseconds at all
        provider_name=None,
        model_name=None,
        prompt_tokens=0,
        completion_tokens=0,
        cached_tokens=0,
        latency_ms=0,
        ttft_ms=None,
        input_per_mtok=None,
        output_per_mtok=None,
        cached_input_per_mtok=None,
        currency=None,
        cost=None,
        meta={},
    ).to_row()


async def references(engine: AsyncEngine) -> dict[str, uuid.UUID]:
    """A stored user to point at (every reference column is a ``Uuid``, like this one)."""
    return {"user_id": await add_user(engine)}


async def raw(engine: AsyncEngine, request_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT * FROM usage_events WHERE request_id = :r"), {"r": request_id}
        )
        row = dict(result.mappings().one())
    row.pop("id")
    row.pop("request_id")
    if isinstance(row["metadata"], str):  # JSON text on SQLite: the same document (spacing
        # and escaping of the text differ: orjson writes it compactly, in UTF-8)
        row["metadata"] = orjson.loads(row["metadata"])
    return row


async def test_each_column_is_stored_as_sqlalchemy_stores_it(engine: AsyncEngine) -> None:
    bulk = bulk_insert(TABLE, engine.dialect)
    refs = await references(engine)
    for make, name in ((lambda r: full_row(r, refs), "full"), (empty_row, "empty")):
        async with engine.begin() as conn:
            await conn.execute(insert(TABLE), [{**make(f"{name}-orm"), "id": uuid.uuid4()}])
            assert await bulk.insert(conn, bulk.values([make(name)])) == {name}
        assert await raw(engine, name) == await raw(engine, f"{name}-orm")


async def test_any_number_of_rows_is_one_statement_and_repeats_are_skipped(
    engine: AsyncEngine,
) -> None:
    bulk = bulk_insert(TABLE, engine.dialect)
    rows = [empty_row(f"r{n}") for n in range(300)] + [empty_row("r7"), empty_row("new")]
    rows[7]["latency_ms"] = 7  # the first of two rows with one request id is kept
    rows[300]["latency_ms"] = 99
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    async with engine.begin() as conn:
        assert await bulk.insert(conn, bulk.values(rows)) == {row["request_id"] for row in rows}
        inserts = [s for s in statements if s.startswith("INSERT")]
        assert await bulk.insert(conn, bulk.values(rows[:5])) == set()  # stored already
        assert await bulk.insert(conn, bulk.values([empty_row("r1"), empty_row("x")])) == {"x"}
        count = await conn.scalar(text("SELECT count(*) FROM usage_events"))
        latency = await conn.scalar(
            text("SELECT latency_ms FROM usage_events WHERE request_id = 'r7'")
        )
    assert len(inserts) == 1
    assert count == 302
    assert latency == 7
    ids = {uuid.UUID(values[0]) for values in bulk.values(rows[:50])}
    assert len(ids) == 50
    assert all(i.version == 7 for i in ids)


@pytest.mark.parametrize(
    "change",
    [
        {"cost": 0.1},  # a float where money is kept
        {"occurred_at": datetime(2026, 1, 1)},  # no zone
        {"metadata": {"set": {1, 2}}},  # not JSON
        {"charged_credits": Decimal("0.0000001")},  # below a micro-credit
        {"user_id": "not a uuid object"},
    ],
    ids=["float", "naive time", "not json", "sub-micro credits", "uuid as text"],
)
async def test_a_value_its_column_cannot_hold_is_refused_before_the_database(
    engine: AsyncEngine, change: dict[str, Any]
) -> None:
    bulk = bulk_insert(TABLE, engine.dialect)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    async with engine.connect() as conn:
        with pytest.raises(RowRefused):
            await bulk.insert(conn, bulk.values([{**empty_row("bad"), **change}]))
    assert not [s for s in statements if s.startswith("INSERT")]
