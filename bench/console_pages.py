"""Benchmark: the admin console's pages at issue 16's scale, on SQLite and PostgreSQL.

Builds (once; cached, see --cache) 50 providers, 2,000 models with prices, 50 users with an
API key each, and 1,000,000 usage rows over the last 90 days, the usage rows bulk-inserted
(SQLite: one ``executemany`` of the usage writer's own statement; PostgreSQL: ``COPY``) and
the daily roll-ups filled by :func:`modelyard.db.rollup.backfill`, the code migration 0009
runs. Each run then works on a fresh copy (SQLite: the file copied; PostgreSQL: a database
created from the cached one as its template, dropped at the end), starts a real
``modelyard serve`` on it, signs in through ``/login`` as the admin and as a member with
usage of their own, and requests every page of :data:`PAGES`, plus the first detail page
each list page links to, --runs times after a warm-up.

The figures are client-side milliseconds over loopback (one keep-alive connection, nothing
else running against the server): the server's time plus well under a millisecond of HTTP.
A page answering 404 (not built yet) is printed as "missing". Then, in process, the daily
usage service the dashboard reads (series over 90 days, top 10 over 30 days) is timed beside
the usage report summing the calls themselves.

Run with ``.venv/bin/python bench/console_pages.py`` (first run ~2-4 min to build the cache,
then well under a minute per database), ``--databases sqlite``, ``--runs 50``,
``--rebuild`` (build the cache again), ``--drop-cache`` (remove it and the PostgreSQL
template database, then exit).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import _console_data as data
import asyncpg
import httpx

from modelyard.db.engine import create_engine
from modelyard.db.migrate import head_revision
from modelyard.registry.tx import Database
from modelyard.services import Registry
from modelyard.usage.report import UsageFilter

CACHE = Path("/tmp/modelyard-console-bench")
PG_HOST = "127.0.0.1:5432"
PG_TEMPLATE = "modelyard_console_bench_cache"
# Every page of the console's navigation, as admin, and as member where members have it.
PAGES: tuple[tuple[str, str], ...] = (
    ("/console", "admin"),
    ("/console", "member"),
    ("/console?days=7", "admin"),
    ("/console?days=90", "admin"),
    ("/console?days=90", "member"),
    ("/console/models", "admin"),
    ("/console/infrastructure", "admin"),
    ("/console/providers", "admin"),
    ("/console/providers", "member"),
    ("/console/users", "admin"),
    ("/console/keys", "admin"),
    ("/console/keys", "member"),
    ("/console/oauth-clients", "admin"),
    ("/console/plans", "admin"),
    ("/console/subscriptions", "admin"),
    ("/console/credits", "admin"),
    ("/console/credits", "member"),
    ("/console/usage", "admin"),
    ("/console/usage", "member"),
    ("/console/audit", "admin"),
)
HREF = re.compile(r'href="(/console/[^"?#]+)"')
NOT_DETAIL = ("/new", "/edit", "/export", "/import")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--drop-cache", action="store_true")
    parser.add_argument("--rows", type=int, default=data.ROWS, help="usage rows (1,000,000)")
    return parser.parse_args()


def pg_url(name: str) -> str:
    return f"postgresql+asyncpg://postgres@{PG_HOST}/{name}"


async def pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(f"postgresql://postgres@{PG_HOST}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def cached(kind: str, cache: Path, rows: int) -> bool:
    stamp = cache / kind / "stamp.json"
    if not stamp.exists():
        return False
    found = json.loads(stamp.read_text())
    return bool(found == {"revision": head_revision(), "rows": rows, "data": data.VERSION})


def stamp(kind: str, cache: Path, rows: int) -> None:
    body = {"revision": head_revision(), "rows": rows, "data": data.VERSION}
    (cache / kind / "stamp.json").write_text(json.dumps(body))


async def build(kind: str, cache: Path, rows: int) -> None:
    """The cached database of ``kind``: every row the pages read."""
    home = cache / kind
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{home / 'cache.db'}"
    else:
        await pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE}" WITH (FORCE)')
        await pg_admin(f'CREATE DATABASE "{PG_TEMPLATE}"')
        url = pg_url(PG_TEMPLATE)
    timings = await data.build(url, home / "serve.key", rows)
    if kind == "sqlite":
        with sqlite3.connect(home / "cache.db") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stamp(kind, cache, rows)
    for step, seconds in timings.items():
        print(f"[{kind}] {step}: {seconds:.1f} s")


async def fresh_copy(kind: str, cache: Path, work: Path) -> str:
    if kind == "sqlite":
        shutil.copy(cache / kind / "cache.db", work / "run.db")
        return f"sqlite+aiosqlite:///{work / 'run.db'}"
    name = f"modelyard_console_bench_{os.getpid()}"
    await pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
    await pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{PG_TEMPLATE}"')
    return pg_url(name)


def serve(url: str, key_file: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = data.free_port()
    env = {
        **os.environ,
        "MODELYARD_DATABASE_URL": url,
        "MODELYARD_MASTER_KEY_FILE": str(key_file),
        "MODELYARD_USAGE_OUTBOX": str(work / "usage.outbox"),
        "MODELYARD_ADMIN_EMAIL": data.ADMIN_EMAIL,
        "MODELYARD_LOG_LEVEL": "warning",
    }
    for name in ("MODELYARD_MASTER_KEY", "MODELYARD_REDIS_URL"):
        env.pop(name, None)
    log = (work / "serve.log").open("wb")
    command = [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"modelyard serve exited (see {work / 'serve.log'})")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("modelyard serve did not answer /health within 60 s")


def signed_in(base: str, email: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/login?next=/console").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None, "no CSRF token on /login"
    fields = {"csrf_token": token.group(1), "next": "/console", "email": email}
    answer = client.post("/login", data={**fields, "password": password})
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"sign-in as {email} answered {answer.status_code}")
    return client


def cpu_ns(pid: int) -> int:
    """CPU time the server's threads (event loop, SQLite's) have run, in nanoseconds."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread ended
            total += int((task / "schedstat").read_text().split()[0])
    return total


def time_page(client: httpx.Client, pid: int, path: str, runs: int, warmup: int) -> tuple[Any, ...]:
    """(status, wall p50, wall p95, server CPU p50, server CPU p95, bytes, body) of ``runs``
    GETs after ``warmup``."""
    first = client.get(path)
    if first.status_code != 200:
        return first.status_code, None, None, None, None, len(first.content), first.text
    for _ in range(warmup):
        client.get(path)
    wall, cpu = [], []
    for _ in range(runs):
        start_cpu = cpu_ns(pid)
        start = time.perf_counter()
        answer = client.get(path)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((cpu_ns(pid) - start_cpu) / 1e6)
        assert answer.status_code == 200, f"{path}: {answer.status_code}"
    (p50, p95, _), (c50, c95, _) = summary(wall), summary(cpu)
    return 200, p50, p95, c50, c95, len(first.content), first.text


def summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)], ordered[-1]


def detail_of(path: str, body: str) -> str | None:
    """The first link of a list page to one of its items' pages."""
    for href in HREF.findall(body):
        rest = href[len(path) :]
        if href.startswith(path + "/") and "/" not in rest[1:] and rest not in NOT_DETAIL:
            return href
    return None


def bench_pages(kind: str, base: str, pid: int, runs: int, warmup: int) -> list[tuple[Any, ...]]:
    clients = {
        "admin": signed_in(base, data.ADMIN_EMAIL, data.ADMIN_PASSWORD),
        "member": signed_in(base, data.MEMBER_EMAIL, data.MEMBER_PASSWORD),
    }
    rows: list[tuple[Any, ...]] = []
    queue = list(PAGES)
    seen = set(queue)
    while queue:
        path, role = queue.pop(0)
        status, p50, p95, c50, c95, size, body = time_page(clients[role], pid, path, runs, warmup)
        rows.append((kind, path, role, status, p50, p95, c50, c95, size))
        print(f"  {rows[-1]}", flush=True)
        detail = detail_of(path, body) if status == 200 and path in dict(PAGES) else None
        if detail and (detail, role) not in seen:
            seen.add((detail, role))
            queue.insert(0, (detail, role))
    for client in clients.values():
        client.close()
    return rows


async def bench_service(kind: str, url: str, runs: int) -> list[tuple[Any, ...]]:
    """The dashboard's reads, in process: the roll-ups beside the report over the calls."""
    engine = create_engine(url)
    registry = Registry(Database(engine, keyring=None))
    try:
        admin = await data.actor(registry, data.ADMIN_EMAIL)
        member = await data.actor(registry, data.MEMBER_EMAIL)
        until = datetime.now(UTC).date()
        d90, d30 = until - timedelta(days=89), until - timedelta(days=29)
        daily = registry.usage_daily
        (top,) = await daily.top(admin, "model", d90, until, limit=1)
        model, provider = top.key, "bench-000"
        calls: list[tuple[str, Any]] = [
            ("series 90 days, admin", lambda: daily.series(admin, d90, until)),
            ("series 90 days, member", lambda: daily.series(member, d90, until)),
            ("series 90 days, one model", lambda: daily.series(admin, d90, until, model=model)),
            (
                "series 90 days, one provider",
                lambda: daily.series(admin, d90, until, provider=provider),
            ),
            ("top 10 models, 30 days", lambda: daily.top(admin, "model", d30, until)),
            ("top 10 models, 30 days, member", lambda: daily.top(member, "model", d30, until)),
            ("top 10 providers, 30 days", lambda: daily.top(admin, "provider", d30, until)),
            ("top 10 users, 30 days", lambda: daily.top(admin, "user", d30, until)),
            ("totals 30 days, admin", lambda: daily.totals(admin, d30, until)),
            (
                "report by day 90 days (calls)",
                lambda: registry.usage.totals(admin, _since(d90), ["day"]),
            ),
        ]
        out = []
        for name, call in calls:
            slow = "report" in name  # a million calls read: once is enough
            if not slow:
                await call()
            samples, cpu = [], []
            for _ in range(1 if slow else runs):
                start, start_cpu = time.perf_counter(), time.process_time()
                await call()
                samples.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
            row = (kind, name, len(samples), *summary(samples), statistics.median(cpu))
            print(f"  {row}", flush=True)
            out.append(row)
        return out
    finally:
        await engine.dispose()


def _since(day: date) -> UsageFilter:
    return UsageFilter(since=datetime.combine(day, datetime.min.time(), UTC))


async def main() -> None:
    args = _args()
    if args.drop_cache:
        shutil.rmtree(args.cache, ignore_errors=True)
        await pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE}" WITH (FORCE)')
        print(f"removed {args.cache} and the database {PG_TEMPLATE}")
        return
    pages: list[tuple[Any, ...]] = []
    service: list[tuple[Any, ...]] = []
    for kind in args.databases.split(","):
        if args.rebuild or not cached(kind, args.cache, args.rows):
            await build(kind, args.cache, args.rows)
        work = args.cache / f"run-{kind}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        url = await fresh_copy(kind, args.cache, work)
        try:
            proc, base = serve(url, args.cache / kind / "serve.key", work)
            try:
                pages += await asyncio.to_thread(
                    bench_pages, kind, base, proc.pid, args.runs, args.warmup
                )
            finally:
                proc.terminate()
                proc.wait(30)
            service += await bench_service(kind, url, args.runs)
        finally:
            if kind == "postgresql":
                await pg_admin(f'DROP DATABASE IF EXISTS "modelyard_console_bench_{os.getpid()}"')
    print(
        f"\nconsole pages: {args.runs} GETs each after {args.warmup}; wall: client-side ms on"
        " loopback; cpu: ms the server process ran (all its threads; PostgreSQL's own work"
        " not included)"
    )
    head = f"{'db':<10} {'page':<48} {'as':<6} {'wall p50':>8} {'p95':>8} {'cpu p50':>8}"
    print(f"{head} {'p95':>8} {'KiB':>7}")
    for kind, path, role, status, p50, p95, c50, c95, size in pages:
        if status == 200:
            figures = f"{p50:8.1f} {p95:8.1f} {c50:8.1f} {c95:8.1f} {size / 1024:7.1f}"
        else:
            figures = "missing" if status == 404 else f"answered {status}"
        print(f"{kind:<10} {path[:48]:<48} {role:<6} {figures}")
    print("\ndaily usage service (in process), ms; cpu: this process's (not the database's)")
    head = f"{'db':<10} {'call':<34} {'runs':>5} {'p50':>8} {'p95':>8} {'max':>8}"
    print(f"{head} {'cpu p50':>8}")
    for kind, name, n, p50, p95, top, cpu in service:
        print(f"{kind:<10} {name:<34} {n:>5} {p50:8.1f} {p95:8.1f} {top:8.1f} {cpu:8.1f}")


if __name__ == "__main__":
    asyncio.run(main())
