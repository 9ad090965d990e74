"""Usage rows: exact cost, batched writes, idempotent request ids, nothing lost while the
database is away."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from modelyard.db.engine import create_engine
from modelyard.db.tables import UsageEvent
from modelyard.gateway.adapters.base import Usage
from modelyard.gateway.snapshot import PriceEntry
from modelyard.gateway.usage import UsageRecord, UsageRecorder, cost_of

PRICE = PriceEntry(
    uuid.uuid4(),
    datetime(2026, 1, 1, tzinfo=UTC),
    Decimal("2.5"),
    Decimal("10"),
    Decimal("1.25"),
    Decimal("0.4"),
    "USD",
)


def _record(request_id: str) -> UsageRecord:
    return UsageRecord(
        request_id=request_id,
        occurred_at=datetime.now(UTC),
        user_id=None,
        api_key_id=None,
        provider_id=None,
        model_id=None,
        provider_name="p",
        model_name="m",
        operation="chat",
        prompt_tokens=100,
        completion_tokens=20,
        cached_tokens=0,
        estimated=False,
        latency_ms=5,
        ttft_ms=None,
        attempts=1,
        status="ok",
        error_code=None,
        price_id=None,
        input_per_mtok=Decimal("2.5"),
        output_per_mtok=Decimal("10"),
        cached_input_per_mtok=None,
        currency="USD",
        cost=Decimal("0.00045"),
        credits=None,
        meta={"k": "v"},
    )


def test_cost_is_exact_and_charges_cached_tokens_at_their_price() -> None:
    cost, credits = cost_of(
        PRICE, Usage(prompt_tokens=1000, completion_tokens=200, cached_tokens=400)
    )
    # 600 * 2.5 + 400 * 1.25 + 200 * 10 = 4000 per million
    assert cost == Decimal("0.004")
    assert credits == Decimal("0.48")  # 1200 tokens * 0.4 per 1k
    assert isinstance(cost, Decimal)


async def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(UsageEvent)) or 0)
    finally:
        await engine.dispose()


async def test_many_records_are_written_in_few_batches_and_once_per_request_id(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    inserts: list[str] = []

    def seen(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox", batch_size=250)
    await recorder.start()
    for n in range(1000):
        recorder.record(_record(f"req-{n}"))
    recorder.record(_record("req-7"))  # a retried request id
    await recorder.stop()
    await engine.dispose()
    assert await _count(database_url) == 1000
    assert len(inserts) <= 8


async def test_an_unreachable_database_parks_rows_in_the_outbox_until_it_returns(
    database_url: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    gone = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    down = UsageRecorder(gone, outbox=outbox)
    for n in range(30):
        down.record(_record(f"req-{n}"))
    await down.stop()
    await gone.dispose()
    assert down.pending() == 30
    assert len(outbox.read_bytes().splitlines()) == 30

    engine = create_engine(database_url)
    back = UsageRecorder(engine, outbox=outbox)
    await back.start()  # replays the outbox first
    await back.stop()
    again = UsageRecorder(engine, outbox=outbox)  # a second replay records nothing twice
    await again.start()
    await again.stop()
    await engine.dispose()
    assert await _count(database_url) == 30
    assert not outbox.exists()
