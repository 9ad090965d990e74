"""Usage rows: exact cost, one row per request id, batched writes off the request path, and
rows the database refuses kept aside without holding back the others."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.adapters.base import Usage
from modelyard.billing.pricing import cost_of
from modelyard.db.engine import create_engine
from modelyard.db.tables import CreditEntry, UsageEvent, User
from modelyard.gateway.snapshot import PriceEntry
from modelyard.usage.outbox import Outbox
from modelyard.usage.record import UsageRecord
from modelyard.usage.recorder import Backlog, UsageRecorder
from modelyard.usage.writer import BULK, PACED

AT = datetime(2026, 1, 1, tzinfo=UTC)


def price(
    input_: str, output: str, cached: str | None = None, credits: str | None = None
) -> PriceEntry:
    return PriceEntry(
        uuid.uuid4(),
        AT,
        Decimal(input_),
        Decimal(output),
        None if cached is None else Decimal(cached),
        None if credits is None else Decimal(credits),
        "USD",
    )


NOW = datetime.now(UTC)  # one call's time, for the rows that repeat it


def usage_record(request_id: str, **changes: Any) -> UsageRecord:
    record = UsageRecord(
        request_id=request_id,
        occurred_at=datetime.now(UTC),
        user_id=None,
        api_key_id=None,
        provider_id=None,
        model_id=None,
        provider_name="openai",
        model_name="gpt-4o-mini",
        operation="chat",
        prompt_tokens=1000,
        completion_tokens=200,
        cached_tokens=400,
        estimated=False,
        latency_ms=35,
        ttft_ms=12,
        attempts=1,
        status="ok",
        error_code=None,
        price_id=None,
        input_per_mtok=Decimal("0.15"),
        output_per_mtok=Decimal("0.6"),
        cached_input_per_mtok=Decimal("0.075"),
        currency="USD",
        cost=Decimal("0.00027"),
        credits=None,
        meta={"client": "sdk"},
    )
    return dataclasses.replace(record, **changes)


async def add_user(engine: AsyncEngine) -> uuid.UUID:
    """A stored user for usage rows to point at."""
    user_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            insert(User), [{"id": user_id, "email": "a@x.io", "email_normalized": "a@x.io"}]
        )
    return user_id


async def stored(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(select(UsageEvent.__table__)))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


COSTS = {
    # 600 * 2.5 + 400 * 1.25 + 200 * 10 = 4000 per million tokens; 1200 tokens * 0.4 / 1k
    "cached tokens at the cached price": (
        price("2.5", "10", "1.25", "0.4"),
        Usage(1000, 200, 400),
        "0.004",
        "0.48",
    ),
    "cached tokens at the input price without one": (
        price("2.5", "10"),
        Usage(1000, 200, 400),
        "0.0045",
        None,
    ),
    "one token at a fraction of a cent per million": (
        price("0.15", "0.6"),
        Usage(1, 0),
        "0.00000015",
        None,
    ),
    "money below the tenth place rounds half to even; credits up to a micro-credit": (
        price("0.000015", "0", credits="0.00000025"),
        Usage(7, 0),
        "0.0000000001",  # 1.05e-10
        "0.000001",  # 1.75e-9 credits: charged as the smallest unit the ledger keeps
    ),
    "credits on a whole micro-credit stay exact": (
        price("1", "1", credits="0.5"),
        Usage(3, 1),
        "0.000004",
        "0.002",
    ),
    "large numbers stay exact": (
        price("0.1", "0.3"),
        Usage(123_456_789, 987_654_321),
        "308.6419752",
        None,
    ),
}


@pytest.mark.parametrize(("at", "usage", "cost", "credits"), COSTS.values(), ids=COSTS.keys())
def test_cost_is_exact_decimal_from_modelyard_prices(
    at: PriceEntry, usage: Usage, cost: str, credits: str | None
) -> None:
    got_cost, got_credits = cost_of(at, usage)
    assert isinstance(got_cost, Decimal)
    assert got_cost == Decimal(cost)
    assert got_credits == (None if credits is None else Decimal(credits))
    assert got_cost.as_tuple().exponent == -10  # quantized to the Money column's places


def test_cost_cannot_go_negative_when_a_provider_reports_more_cached_than_prompt() -> None:
    cost, _ = cost_of(price("2", "8", "1"), Usage(100, 0, cached_tokens=500))
    assert cost == Decimal("0.0001")  # all 100 prompt tokens at the cached price, no more


@pytest.mark.parametrize(
    "change",
    [
        {"cost": 0.1},
        {"input_per_mtok": Decimal("NaN")},
        {"operation": "image"},
        {"status": "done"},
        {"occurred_at": datetime(2026, 1, 1)},  # no zone
    ],
    ids=["float money", "nan money", "unknown operation", "unknown status", "naive time"],
)
def test_a_malformed_record_is_refused_where_it_is_made(change: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        usage_record("r", **change)


async def test_calls_become_rows_in_few_statements_of_one_shape(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox", batch_size=1000)
    await recorder.start()
    statements.clear()
    for n in range(2500):
        recorder.record(usage_record(f"req-{n}"))
    assert statements == []  # record() never touches the database
    assert recorder.pending() == 2500
    await recorder.stop()
    inserts = [s for s in statements if s.lstrip().startswith("INSERT INTO usage_events")]
    rollups = [s for s in statements if s.lstrip().startswith("INSERT INTO usage_daily")]
    assert len(rollups) == 3  # one per batch: its rows added to their day's roll-up
    # Batches of 1000, 1000 and 500 rows, all in one statement text whatever their row count
    # (the drivers keep it prepared): the first in bulk (1500 rows still waited behind it),
    # the others paced, in the shorter statements of a writer that keeps up.
    paced = -(-1000 // PACED.piece) + -(-500 // PACED.piece)
    assert len(inserts) == -(-1000 // BULK.piece) + paced
    assert len(set(inserts)) == 1
    assert len(await stored(engine)) == 2500
    assert recorder.pending() == 0


async def test_a_repeated_request_id_is_recorded_once(engine: AsyncEngine, tmp_path: Path) -> None:
    # A repeat is the same call's row again (a replay, another replica adopting an outbox):
    # it carries the call's occurred_at, part of the key on PostgreSQL (partitioned by it).
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox")
    for _ in range(3):  # within one batch
        recorder.record(usage_record("retried", occurred_at=NOW))
    await recorder.flush()
    recorder.record(usage_record("retried", occurred_at=NOW, prompt_tokens=5))  # a later batch
    await recorder.flush()
    again = UsageRecorder(engine, outbox=tmp_path / "outbox")  # and from another replica
    again.record(usage_record("retried", occurred_at=NOW))
    await again.stop()
    rows = await stored(engine)
    assert len(rows) == 1
    assert rows[0].prompt_tokens == 1000  # the first record wins
    assert not recorder.outbox.rejected_path.exists()  # a repeat is not an error


async def test_a_row_reads_back_exactly_as_recorded(engine: AsyncEngine, tmp_path: Path) -> None:
    record = usage_record("exact", cost=Decimal("0.0000000001"), credits=Decimal("12.5"))
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox")
    recorder.record(record)
    await recorder.stop()
    (row,) = await stored(engine)
    assert row.cost == Decimal("0.0000000001")
    assert row.credits == Decimal("12.5")
    assert row.cached_input_per_mtok == Decimal("0.075")
    assert row.occurred_at == record.occurred_at
    assert row.metadata == {"client": "sdk"}


async def test_a_reference_to_a_deleted_row_is_stored_as_null_with_the_old_id(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    user_id, gone = await add_user(engine), uuid.uuid4()
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox")
    recorder.record(usage_record("fine", user_id=user_id))
    recorder.record(usage_record("deleted-model", user_id=user_id, model_id=gone))
    await recorder.stop()
    rows = {row.request_id: row for row in await stored(engine)}
    assert rows.keys() == {"fine", "deleted-model"}
    assert rows["deleted-model"].model_id is None
    assert rows["deleted-model"].user_id == user_id
    assert rows["deleted-model"].metadata["unlinked"] == {"model_id": str(gone)}
    assert rows["fine"].metadata == {"client": "sdk"}


async def test_a_row_the_database_refuses_is_set_aside_and_the_rest_are_written(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox")
    for n in range(10):
        recorder.record(usage_record(f"req-{n}"))
    recorder.record(usage_record("poison", meta={"not json": {1, 2}}))
    await recorder.stop()
    assert len(await stored(engine)) == 10
    assert recorder.pending() == 0
    (line,) = recorder.outbox.rejected_path.read_bytes().splitlines()
    assert b'"poison"' in line


async def test_a_request_id_twice_in_one_batch_is_stored_and_debited_once(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    user_id = await add_user(engine)
    settled: list[tuple[str, int, bool]] = []
    recorder = UsageRecorder(
        engine,
        outbox=tmp_path / "outbox",
        on_done=lambda row, new: settled.append((row.request_id, row.prompt_tokens, new)),
    )
    # A call's rows all carry the call's time (call.at): part of the key on PostgreSQL.
    charged = {"user_id": user_id, "charged_credits": Decimal("1.5"), "occurred_at": NOW}
    recorder.record(usage_record("twice", **charged))
    recorder.record(usage_record("twice", **charged, prompt_tokens=5))  # a reused request id
    recorder.record(usage_record("once", **{**charged, "charged_credits": Decimal("0.25")}))
    await recorder.stop()
    rows = {row.request_id: row for row in await stored(engine)}
    assert rows.keys() == {"twice", "once"}
    assert rows["twice"].prompt_tokens == 1000  # the first row is the one kept
    async with engine.connect() as conn:
        debits = list(
            await conn.execute(
                select(CreditEntry.request_id, CreditEntry.amount).where(
                    CreditEntry.kind == "usage"
                )
            )
        )
    assert sorted(debits) == [("once", Decimal("-0.25")), ("twice", Decimal("-1.5"))]
    assert settled == [("twice", 1000, True), ("twice", 5, False), ("once", 1000, True)]


async def test_calls_sharing_a_client_request_id_are_each_stored_and_debited_once(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """The caller's id is a correlation field: only the server's request id dedupes, so an
    outbox replay (of rows already stored, and of a line parked before the column existed)
    stays idempotent while calls that share a client id are all kept."""
    user_id = await add_user(engine)
    charged = {"user_id": user_id, "charged_credits": Decimal("1"), "client_request_id": "same"}
    records = [usage_record(f"req_{n}", **charged) for n in range(3)]
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox")
    for record in records:
        recorder.record(record)
    await recorder.flush()
    old = orjson.loads(usage_record("req_old", user_id=user_id).to_json())
    del old["client_request_id"]  # parked by an older version
    recorder.outbox.append([r.to_json() for r in records] + [orjson.dumps(old)])
    await recorder.stop()
    rows = {row.request_id: row for row in await stored(engine)}
    assert rows.keys() == {"req_0", "req_1", "req_2", "req_old"}
    assert [rows[f"req_{n}"].client_request_id for n in range(3)] == ["same"] * 3
    assert rows["req_old"].client_request_id is None
    async with engine.connect() as conn:
        debits = list(await conn.scalars(select(CreditEntry.request_id)))
    assert sorted(debits) == ["req_0", "req_1", "req_2"]
    assert not recorder.outbox.rejected_path.exists()


async def test_a_value_too_long_for_its_column_sets_only_that_row_aside(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox")
    for n in range(5):
        recorder.record(usage_record(f"req-{n}"))
    recorder.record(usage_record("long", provider_name="p" * 65))  # the column holds 64
    await recorder.stop()
    names = {row.request_id for row in await stored(engine)}
    assert recorder.pending() == 0  # nothing parked, nothing waiting
    if engine.dialect.name == "postgresql":
        assert names == {f"req-{n}" for n in range(5)}
        (line,) = recorder.outbox.rejected_path.read_bytes().splitlines()
        assert b'"long"' in line
    else:  # SQLite does not enforce declared lengths
        assert names == {*(f"req-{n}" for n in range(5)), "long"}


def test_the_outbox_makes_its_directory_when_first_claimed(tmp_path: Path) -> None:
    """Its default place, MODELYARD_HOME, may not exist yet (e.g. with PostgreSQL)."""
    outbox = Outbox(tmp_path / "home" / "not-yet" / "usage.outbox")
    outbox.claim()
    try:
        outbox.append([b'{"row": 1}'])
        assert len(outbox) == 1
        assert (tmp_path / "home" / "not-yet" / "usage.outbox").is_file()
    finally:
        outbox.release()


def test_the_backlog_counts_rows_in_memory_and_parked_with_the_oldest_time(
    tmp_path: Path,
) -> None:
    """What readiness reports: parked rows are older than buffered ones; a torn first line
    leaves the age unknown rather than failing."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox")
    assert recorder.backlog() == Backlog(0, 0, None)
    old, new = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    recorder.record(usage_record("buffered", occurred_at=new))
    assert recorder.backlog() == Backlog(1, 0, new)
    recorder.outbox.append([usage_record(f"parked-{n}", occurred_at=old).to_json() for n in (1, 2)])
    backlog = recorder.backlog()
    assert backlog == Backlog(1, 2, old)
    assert backlog.rows == 3
    torn = UsageRecorder(engine, outbox=tmp_path / "torn")
    torn.outbox.append([b'{"request_id": "half'])
    assert torn.backlog() == Backlog(0, 1, None)
