"""Benchmark: seed 001's model-metadata query over /graphql, beside REST's /api/v1/overview.

Creates, through the registry services (audited, as an admin would), 50 providers with 40
models each and a price per model (2,000 models), then serves the registry with a real
``modelyard serve`` (one uvicorn worker, pinned to core 0; this client on core 1) and times
over HTTP, after a warm-up:

* ``graphql warm``: ``POST /graphql`` with the seed's ``llmProviders { ... models { ... } }``;
* ``graphql after change``: the same right after a configuration change (a model's display
  name updated through ``PATCH /api/v1/models/{id}``, untimed, before each measured call;
  the answer is checked to carry the new name);
* ``graphql after settled change``: the same, but the timed call is sent half a second after
  the change, once the server's gateway has reloaded its own snapshot (it does so at once
  after every change, in the same process, and the call above competes with it for the
  CPU); the overview is still rebuilt by the timed call;
* ``rest warm``, ``rest after change`` and ``rest after settled change``:
  ``GET /api/v1/overview``, the same data as JSON.

Each line gives wall-clock p50/p95/max in milliseconds (request sent to answer read) and the
server's CPU milliseconds per call (from /proc; unlike wall time it does not grow when other
processes compete for the CPU). The seed's target is 50 ms.

Run with ``.venv/bin/python bench/graphql_queries.py`` (SQLite in a temporary directory and
PostgreSQL in a database of its own, created and dropped), ``--databases sqlite`` for one,
``--in-process`` to call the ASGI app in this process (httpx's ASGI transport, no sockets),
``--profile`` to print where the in-process GraphQL call spends its time, ``--help``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import platform
import pstats
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import _stack
import asyncpg
import orjson
from _gql_target import target
from sqlalchemy.engine import make_url

from modelyard.bootstrap import bootstrap
from modelyard.services import Registry
from modelyard.settings import Settings

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SETTLE_S = 0.5  # "after settled change": the gateway's reload is over well within this
CAPABILITIES = [["text", "streaming"], ["text", "vision", "long_context"], ["embedding"]]
QUERY = """query ModelMetadata {
  llmProviders {
    id name kind enabled
    models {
      id modelId displayName status contextWindow maxOutputTokens capabilities isDefault
      price { inputPerMtok outputPerMtok currency }
    }
  }
}"""
BODY = orjson.dumps({"query": QUERY, "operationName": "ModelMetadata"})
TARGET_MS = 50.0

Call = Callable[[], Awaitable[bytes]]


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help="where to create one")
    parser.add_argument("--providers", type=int, default=50)
    parser.add_argument("--models", type=int, default=40, help="models per provider")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--in-process", action="store_true", help="no server: the ASGI app here")
    parser.add_argument("--profile", action="store_true", help="cProfile warm GraphQL calls")
    args = parser.parse_args()
    args.in_process = args.in_process or args.profile
    return args


async def populate(settings: Settings, providers: int, models: int) -> tuple[str, str]:
    """Migrate, bootstrap, then providers, models and prices through the services; the
    admin's key and one model's id (the one each configuration change renames)."""
    registry = Registry.open(settings)
    try:
        boot = await bootstrap(settings, registry)
        assert boot.admin_key is not None
        admin = await registry.keys.authenticate(boot.admin_key)
        first = ""
        for p in range(providers):
            provider = await registry.providers.create(
                admin,
                {
                    "name": f"bench-{p:03d}",
                    "kind": "openai_compatible",
                    "base_url": f"https://bench-{p:03d}.example.com/v1",
                    "api_key": f"sk-bench-{p:03d}-secret",
                    "description": "benchmark provider",
                    "config": {"vendor": "bench"},
                },
            )
            for m in range(models):
                model = await registry.models.create(
                    admin,
                    {
                        "provider_id": provider.id,
                        "model_id": f"vendor/model-{p:03d}-{m:03d}",
                        "display_name": f"Model {p}.{m}",
                        "context_window": 128_000,
                        "max_output_tokens": 8_192,
                        "capabilities": CAPABILITIES[m % len(CAPABILITIES)],
                        "price": {"input_per_mtok": f"{m % 7}.{p:02d}", "output_per_mtok": "2.5"},
                    },
                )
                first = first or str(model.id)
        return boot.admin_key, first
    finally:
        await registry.close()


async def timed(
    call: Call,
    runs: int,
    warmup: int,
    prepare: Callable[[], Awaitable[Any]] | None,
    pid: int | None,
) -> tuple[list[float], float]:
    """Wall-clock milliseconds of each run (``prepare`` runs, untimed, before each) and the
    server's CPU milliseconds per run (this process's when the app runs in it)."""
    for _ in range(warmup):
        if prepare:
            await prepare()
        await call()
    wall: list[float] = []
    cpu = 0.0
    for _ in range(runs):
        if prepare:
            await prepare()
        before = _stack.cpu_seconds(pid) if pid else time.process_time()
        start = time.perf_counter()
        await call()
        wall.append((time.perf_counter() - start) * 1000)
        cpu += (_stack.cpu_seconds(pid) if pid else time.process_time()) - before
    return wall, cpu * 1000 / runs


def summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered), p95, ordered[-1]


def check_graphql(body: bytes, providers: int, models: int, name: str | None = None) -> None:
    answer = orjson.loads(body)
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors'][:3]}")
    found = answer["data"]["llmProviders"]
    count = sum(len(p["models"]) for p in found)
    if len(found) != providers or count != providers * models:
        raise RuntimeError(f"{len(found)} providers and {count} models in the answer")
    if not all(m["price"] for p in found for m in p["models"]):
        raise RuntimeError("a model without its price")
    if name is not None and not any(m["displayName"] == name for m in found[0]["models"]):
        raise RuntimeError(f"the change to {name!r} is not in the answer")


async def bench_database(
    label: str, settings: Settings, workdir: Path, args: argparse.Namespace
) -> list[tuple[Any, ...]]:
    start = time.perf_counter()
    key, model_id = await populate(settings, args.providers, args.models)
    total = args.providers * args.models
    print(
        f"[{label}] {args.providers} providers, {total} models and prices through the services"
        f" in {time.perf_counter() - start:.1f} s"
    )
    changes = iter(range(10**9))
    rows = []
    async with target(settings, key, workdir, args.in_process) as app:

        async def graphql() -> bytes:
            return await app.request("POST", "/graphql", BODY)

        async def rest() -> bytes:
            return await app.request("GET", "/api/v1/overview")

        async def change() -> None:
            name = f"Renamed {next(changes)}"
            patch = orjson.dumps({"display_name": name})
            await app.request("PATCH", f"/api/v1/models/{model_id}", patch)

        async def change_then_settle() -> None:
            """The change, then time for the server's own reaction to it (the gateway
            reloads its snapshot at once, in the same process) to be over; the overview
            is still to be rebuilt by the timed call."""
            await change()
            await asyncio.sleep(SETTLE_S)

        check_graphql(await graphql(), args.providers, args.models)
        await change()
        check_graphql(await graphql(), args.providers, args.models, f"Renamed {0}")
        size_rest = len(await rest())
        print(
            f"[{label}] answers: graphql {len(await graphql()):,} bytes, rest {size_rest:,} bytes"
        )
        if args.profile:
            for title, prepare in (("warm", None), ("after change", change)):
                print(f"[{label}] profile of graphql {title}, {args.runs} calls")
                await profile(graphql, prepare, args.runs)
        for name, call, prepare in (
            ("graphql warm", graphql, None),
            ("graphql after change", graphql, change),
            ("graphql after settled change", graphql, change_then_settle),
            ("rest warm", rest, None),
            ("rest after change", rest, change),
            ("rest after settled change", rest, change_then_settle),
        ):
            wall, cpu = await timed(call, args.runs, args.warmup, prepare, app.pid)
            rows.append((label, name, args.runs, *summary(wall), cpu))
    return rows


async def profile(call: Call, prepare: Callable[[], Awaitable[Any]] | None, runs: int) -> None:
    profiler = cProfile.Profile()
    for _ in range(runs):
        if prepare:
            await prepare()
        profiler.enable()
        await call()
        profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs().sort_stats("cumulative")
    stats.print_stats(40)
    stats.sort_stats("tottime").print_stats(25)


def settings_in(workdir: Path, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        master_key_file=workdir / "modelyard.key",
        usage_outbox=workdir / "usage.outbox",
        admin_email="admin@bench.local",
    )


async def on_postgres(workdir: Path, args: argparse.Namespace) -> list[tuple[Any, ...]]:
    name = f"modelyard_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(args.pg_admin_url, timeout=5)
    try:
        print(f"[postgresql] server {await admin.fetchval('SHOW server_version')}, database {name}")
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(args.pg_admin_url).set(drivername="postgresql+asyncpg", database=name)
        settings = settings_in(workdir, url.render_as_string(hide_password=False))
        return await bench_database("postgresql", settings, workdir, args)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


async def main() -> None:
    args = _parse_args()
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {_load()}, "
        + ("in-process ASGI" if args.in_process else "modelyard serve over HTTP")
    )
    rows: list[tuple[Any, ...]] = []
    for database in args.databases.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            if database == "sqlite":
                url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
                rows += await bench_database("sqlite", settings_in(workdir, url), workdir, args)
            elif database == "postgresql":
                rows += await on_postgres(workdir, args)
            else:
                raise SystemExit(f"unknown database {database!r}: sqlite or postgresql")
    print(f"done, {_load()}")
    print()
    print(
        f"{'database':<11} {'call':<29} {'runs':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
        f" {'srv cpu':>8}  target {TARGET_MS:.0f} ms (p95)"
    )
    for label, name, runs, p50, p95, peak, cpu in rows:
        verdict = "met" if p95 < TARGET_MS else "NOT met"
        print(
            f"{label:<11} {name:<29} {runs:>5} {p50:>8.1f} {p95:>8.1f} {peak:>8.1f} {cpu:>8.1f}"
            f"  {verdict}"
        )


if __name__ == "__main__":
    asyncio.run(main())
