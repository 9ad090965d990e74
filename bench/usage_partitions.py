"""What monthly partitions of usage_events cost on PostgreSQL: the 0009 -> 0010 upgrade over
N stored calls, one maintenance run dropping a month (its roll-ups checked first), the
downgrade, and the usage writer's rows per second into the partitioned and the plain table
(the plain one given a unique index on (request_id, occurred_at) for the time of the
measure: the writer's conflict target since 0010).

    .venv/bin/python bench/usage_partitions.py [--rows 1000000] [--months 12]

Runs against MODELYARD_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/test) in a
database of its own, dropped at the end whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.db import partitions as ddl
from modelyard.db.engine import create_engine
from modelyard.db.migrate import alembic_config
from modelyard.registry.actors import Actor
from modelyard.registry.system_settings import RETENTION_MONTHS, SystemSettings
from modelyard.registry.tx import Database
from modelyard.usage.partitions import maintain
from modelyard.usage.record import UsageRecord
from modelyard.usage.writer import UsageWriter

ADMIN = os.environ.get("MODELYARD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
T = TypeVar("T")

# N calls spread evenly over the months before now, made by the server from a series.
_FILL = """
INSERT INTO usage_events (id, request_id, occurred_at, user_id, provider_name, model_name,
    operation, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, estimated,
    latency_ms, attempts, status, currency, cost, credits, metadata)
SELECT gen_random_uuid(), 'bench-' || n,
    CAST(:start AS timestamptz) + (CAST(:span AS bigint) * n / :rows) * interval '1 second',
    NULL, 'p' || (n % 3), 'm' || (n % 7), 'chat', 100 + n % 50, 20 + n % 9, 0, 0, false,
    30 + n % 40, 1, CASE WHEN n % 17 = 0 THEN 'error' ELSE 'ok' END, 'USD',
    (n % 1000) / 1000000.0, NULL, '{}'::jsonb
FROM generate_series(0, :rows - 1) AS n
"""


_BENCH_KEY = "CREATE UNIQUE INDEX bench_request_time ON usage_events (request_id, occurred_at)"


async def migrate(engine: AsyncEngine, target: str, *, down: bool = False) -> None:
    def step(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, target)

    async with engine.begin() as conn:
        await conn.run_sync(step)


async def timed(label: str, work: Callable[[], Awaitable[T]]) -> T:
    began = time.perf_counter()
    result = await work()
    print(f"{label:<58} {time.perf_counter() - began:8.2f} s", flush=True)
    return result


async def writer_rate(engine: AsyncEngine, tag: str, batches: int = 20) -> float:
    writer = UsageWriter(engine, timeout_s=120)
    now = datetime.now(UTC)
    began = time.perf_counter()
    for b in range(batches):
        rows = [_row(f"{tag}-{b}-{n}", now) for n in range(1000)]
        refused, stored = await writer.write(rows)
        assert (refused, len(stored)) == ([], 1000)
    return batches * 1000 / (time.perf_counter() - began)


def _row(request_id: str, at: datetime) -> dict[str, Any]:
    return UsageRecord(
        request_id=request_id,
        occurred_at=at,
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
        latency_ms=30,
        ttft_ms=None,
        attempts=1,
        status="ok",
        error_code=None,
        price_id=None,
        input_per_mtok=None,
        output_per_mtok=None,
        cached_input_per_mtok=None,
        currency="USD",
        cost=None,
        credits=None,
        meta={},
    ).to_row()


async def run(rows: int, months: int) -> None:
    name = f"modelyard_bench_parts_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    engine = create_engine(url)
    try:
        await migrate(engine, "0008")
        this = ddl.month_of(datetime.now(UTC))
        first = ddl.bounds(ddl.add_months(this, -months))[0]
        span = int((ddl.bounds(this)[0] - first).total_seconds())
        async with engine.begin() as conn:
            fill = text(_FILL)
            values = {"start": first, "span": span, "rows": rows}
            await timed(
                f"{rows:,} calls over {months} months (SQL)", lambda: conn.execute(fill, values)
            )
        await timed("0008 -> 0009 (roll-ups backfilled)", lambda: migrate(engine, "0009"))
        async with engine.begin() as conn:  # the writer's conflict target needs its key
            await conn.execute(text(_BENCH_KEY))
        plain = await writer_rate(engine, "plain")
        async with engine.begin() as conn:
            await conn.execute(text("DROP INDEX bench_request_time"))
        await timed("0009 -> 0010 (calls copied into months)", lambda: migrate(engine, "0010"))
        parted = await writer_rate(engine, "parted")
        db = Database(engine, keyring=None)
        operator = Actor.operator("bench")
        await SystemSettings(db).set(operator, RETENTION_MONTHS, months - 1)
        done = await timed("maintenance: drop the oldest month", lambda: maintain(db))
        for d in done.dropped:
            print(f"  dropped {d.name}: {d.rows:,} calls, days refilled: {len(d.refilled_days)}")
        again = await timed("maintenance: nothing to do", lambda: maintain(db))
        assert not again.dropped
        await timed("0010 -> 0009 (calls copied back)", lambda: migrate(engine, "0009", down=True))
        print(f"{'usage writer, 1,000-row batches, plain table':<58} {plain:8.0f} rows/s")
        print(f"{'usage writer, 1,000-row batches, partitioned':<58} {parted:8.0f} rows/s")
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.months))


if __name__ == "__main__":
    main()
