"""Benchmark: seed 001's admin metadata query, "list providers with their models".

Migrates a fresh database, creates 50 providers (through the registry service, audited) with
40 models each and a price per model (bulk-inserted in one transaction: 2,000 models, 2,000
prices), then times over --runs runs, after a warm-up:

* ``overview``: ``registry.overview.list_with_models(actor)``, the views built;
* ``overview+json``: the same, encoded to JSON as the REST layer returns it;
* ``naive N+1``: ``providers.list`` then ``models.list`` once per provider, for comparison.

Each line gives wall-clock p50/p95/max and the median CPU time of this process (which, unlike
wall time, does not grow when other processes compete for the CPU; on PostgreSQL it leaves
out the server's own work).

Run with ``.venv/bin/python bench/registry_queries.py`` (a temporary SQLite file), add
``--postgres`` to also run against a temporary PostgreSQL database that is created and
dropped, or give ``--database-url`` to run against one empty database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from modelyard.db.engine import create_engine
from modelyard.db.migrate import upgrade_to_head
from modelyard.db.tables import Model, ModelPrice
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.registry.models import ModelFilter
from modelyard.registry.tx import Database
from modelyard.services import Registry

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CAPABILITIES = [["text", "streaming"], ["text", "vision", "long_context"], ["embedding"]]


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="run against this empty database only")
    parser.add_argument(
        "--postgres", action="store_true", help="also run on a temporary PostgreSQL database"
    )
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help="where to create it")
    parser.add_argument("--providers", type=int, default=50)
    parser.add_argument("--models", type=int, default=40, help="models per provider")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    return parser.parse_args()


async def populate(registry: Registry, actor: Actor, providers: int, models: int) -> int:
    """Providers through the service; their models and prices in one bulk transaction."""
    ids = []
    for p in range(providers):
        created = await registry.providers.create(
            actor,
            {
                "name": f"bench-{p:03d}",
                "kind": "openai_compatible",
                "base_url": f"https://bench-{p:03d}.example.com/v1",
                "description": "benchmark provider",
                "config": {"vendor": "bench"},
            },
        )
        ids.append(created.id)
    since = datetime.now(UTC) - timedelta(days=1)
    model_rows: list[dict[str, Any]] = []
    price_rows: list[dict[str, Any]] = []
    for p, provider_id in enumerate(ids):
        for m in range(models):
            model_id = uuid.uuid4()
            model_rows.append(
                {
                    "id": model_id,
                    "provider_id": provider_id,
                    "model_id": f"vendor/model-{p:03d}-{m:03d}",
                    "display_name": f"Model {p}.{m}",
                    "context_window": 128_000,
                    "max_output_tokens": 8_192,
                    "capabilities": CAPABILITIES[m % len(CAPABILITIES)],
                    "status": "DEPRECATED" if m % 10 == 9 else "ACTIVE",
                    "is_default": False,
                    "config_version": 1,
                    "created_at": since,
                    "updated_at": since,
                }
            )
            price_rows.append(
                {
                    "id": uuid.uuid4(),
                    "model_id": model_id,
                    "input_per_mtok": Decimal(f"{m % 7}.{p:02d}"),
                    "output_per_mtok": Decimal(f"{m % 11}.5"),
                    "cached_input_per_mtok": None,
                    "credits_per_1k": Decimal("0.25"),
                    "currency": "USD",
                    "effective_from": since,
                    "created_at": since,
                }
            )
    async with registry.db.write(actor) as tx:
        await tx.session.execute(insert(Model), model_rows)
        await tx.session.execute(insert(ModelPrice), price_rows)
    return len(model_rows)


async def timed(
    call: Callable[[], Awaitable[Any]],
    runs: int,
    warmup: int,
    prepare: Callable[[], Awaitable[Any]] | None = None,
) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds of each run (``prepare``, untimed,
    runs before each one)."""
    for _ in range(warmup):
        if prepare:
            await prepare()
        await call()
    wall, cpu = [], []
    for _ in range(runs):
        if prepare:
            await prepare()
        start, start_cpu = time.perf_counter(), time.process_time()
        await call()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu


def summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered), p95, ordered[-1]


async def bench_engine(label: str, url: str, args: argparse.Namespace) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        registry = Registry(Database(engine, keyring=None))
        actor = Actor.operator("bench")
        start = time.perf_counter()
        count = await populate(registry, actor, args.providers, args.models)
        print(
            f"[{label}] populated {args.providers} providers, {count} models and prices in "
            f"{time.perf_counter() - start:.1f} s"
        )

        async def overview() -> list[dict[str, Any]]:
            return await registry.overview.list_with_models(actor)

        async def overview_json() -> bytes:
            return await registry.overview.list_with_models_json(actor)

        async def change() -> None:  # any audited change: the snapshot must be rebuilt
            async with registry.db.write(actor) as tx:
                await tx.record("bench.touch", "bench", "bench")

        async def naive() -> int:
            page = await registry.providers.list(actor, PageRequest(limit=500))
            total = 0
            for provider in page.items:
                models = await registry.models.list(
                    actor, PageRequest(limit=500), ModelFilter(provider_id=provider.id)
                )
                total += len(models.items)
            return total

        result = await overview()
        assert len(result) == args.providers
        assert sum(len(p["models"]) for p in result) == count
        assert all(m["price"] is not None for p in result for m in p["models"])
        size = len(await overview_json())
        print(f"[{label}] overview: {len(result)} providers, {count} models, {size:,} bytes JSON")
        rows = []
        for name, call, prepare in (
            ("overview", overview, None),
            ("overview+json", overview_json, None),
            ("overview+json after change", overview_json, change),
            (f"naive N+1 (1+{args.providers} calls)", naive, None),
        ):
            wall, cpu = await timed(call, args.runs, args.warmup, prepare)
            rows.append((label, name, args.runs, *summary(wall), statistics.median(cpu)))
        return rows
    finally:
        await engine.dispose()


async def with_temp_postgres(args: argparse.Namespace) -> list[tuple[Any, ...]]:
    name = f"modelyard_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(args.pg_admin_url, timeout=5)
    try:
        version = await admin.fetchval("SHOW server_version")
        print(f"[postgresql] server {version}")
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(args.pg_admin_url).set(drivername="postgresql+asyncpg", database=name)
        return await bench_engine("postgresql", url.render_as_string(hide_password=False), args)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


async def main() -> None:
    args = _parse_args()
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{_load()}"
    )
    rows: list[tuple[Any, ...]] = []
    if args.database_url:
        rows += await bench_engine(
            make_url(args.database_url).get_backend_name(), args.database_url, args
        )
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            rows += await bench_engine("sqlite", url, args)
        if args.postgres:
            rows += await with_temp_postgres(args)
    print(f"done, {_load()}")
    print()
    print(
        f"{'engine':<11} {'query':<26} {'runs':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
        f" {'cpu p50':>8}"
    )
    for label, name, runs, p50, p95, peak, cpu in rows:
        print(f"{label:<11} {name:<26} {runs:>5} {p50:>8.1f} {p95:>8.1f} {peak:>8.1f} {cpu:>8.1f}")


if __name__ == "__main__":
    asyncio.run(main())
