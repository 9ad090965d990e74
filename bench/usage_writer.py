"""Benchmark: what storing calls costs the usage writer, roll-ups included.

Migrates a fresh database (SQLite in a temporary directory, and with ``--postgres`` a
temporary PostgreSQL database, created and dropped), then writes ``--batches`` batches of
``--batch`` calls through ``UsageWriter`` (the rows and their daily, pair and monthly
roll-ups, in one transaction a batch, as the server's recorder does): calls of the last ten
minutes over 20 users (and some without), ``--models`` models on a long tail, each served
by one of 20 providers. Prints, per call,
the median wall time of a batch and the CPU this process spent on it (the writer runs in the
server's process, beside the calls), over the batches after the first five.

Run with ``.venv/bin/python bench/usage_writer.py [--postgres]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from modelyard.db.engine import create_engine
from modelyard.db.migrate import upgrade_to_head
from modelyard.usage.record import UsageRecord
from modelyard.usage.writer import UsageWriter

PG = "postgresql://postgres@127.0.0.1:5432"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--postgres", action="store_true")
    return parser.parse_args()


def _call(rng: random.Random, n: int, models: int, users: list[uuid.UUID | None]) -> UsageRecord:
    now = datetime.now(UTC)
    prompt, completion = rng.randrange(10, 8000), rng.randrange(2000)
    model = int(models ** rng.random())  # a long tail; each model served by one provider
    return UsageRecord(
        request_id=f"bench-{n}",
        occurred_at=now - timedelta(seconds=rng.randrange(600)),
        user_id=rng.choice(users),
        api_key_id=None,
        provider_id=None,
        model_id=None,
        provider_name=f"provider-{model % 20}",
        model_name=f"model-{model}",
        operation="chat",
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=0,
        estimated=False,
        latency_ms=rng.randrange(80, 4000),
        ttft_ms=None,
        attempts=1,
        status="ok" if rng.random() > 0.03 else "error",
        error_code=None,
        price_id=None,
        input_per_mtok=Decimal("0.15"),
        output_per_mtok=Decimal("0.6"),
        cached_input_per_mtok=None,
        currency="USD",
        cost=Decimal(rng.randrange(10**9)).scaleb(-10),
        credits=None,
        meta={},
    )


async def _users(engine: Any, count: int) -> list[uuid.UUID | None]:
    from modelyard.db.tables import User  # noqa: PLC0415

    ids = [uuid.uuid4() for _ in range(count)]
    async with engine.begin() as conn:
        for i in ids:
            email = f"{i.hex}@bench.example"
            await conn.execute(
                User.__table__.insert().values(id=i, email=email, email_normalized=email)
            )
    return [*ids, None]


async def run(url: str, args: argparse.Namespace, label: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        users = await _users(engine, 20)
        rng = random.Random(5)
        writer = UsageWriter(engine)
        walls, cpus = [], []
        for b in range(args.batches):
            batch = [
                _call(rng, b * args.batch + i, args.models, users).to_row()
                for i in range(args.batch)
            ]
            wall, cpu = time.perf_counter(), time.process_time()
            refused, _ = await writer.write(batch)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            assert refused == []
        wall_us = statistics.median(walls[5:]) / args.batch * 1e6
        cpu_us = statistics.median(cpus[5:]) / args.batch * 1e6
        print(f"{label:10} per call: wall {wall_us:6.1f} us, CPU of this process {cpu_us:6.1f} us")
    finally:
        await engine.dispose()


async def main() -> None:
    args = _args()
    print(f"{args.batches} batches of {args.batch} calls, {args.models} models, 20 providers")
    with tempfile.TemporaryDirectory() as home:
        await run(f"sqlite+aiosqlite:///{Path(home) / 'bench.db'}", args, "SQLite")
    if args.postgres:
        name = f"modelyard_writer_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(f"{PG}/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                await run(
                    f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", args, "PostgreSQL"
                )
            finally:
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
