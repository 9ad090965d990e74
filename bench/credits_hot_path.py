"""Benchmark: what the credit check costs a gateway call.

Migrates a fresh database, gives one subscribed user a large grant, and times, per call:

* ``hold (memory)``: ``CreditKeeper.reserve`` + ``settle`` as the gateway runs them, served
  from the process's hold; the database is visited only when the hold runs short (the
  count of those visits is printed);
* ``hold (one visit)``: one such visit on its own, i.e. a hold resize: a short write
  transaction under the user's lock (what every call would pay without holds);
* ``ledger per call``: the naive alternative, the balance summed from the ledger and the
  holds in one write transaction per call;
* ``scarce``: a balance of a few calls (the scarce regime): ``reserve`` + ``settle`` on the
  request path, each call resizing its exact hold, and the shrink after it off the path
  (the database visits of both are printed);
* ``ask the other`` (PostgreSQL): a second keeper short of credits another keeper holds
  unused: its ``reserve`` asks, waits for the answer and resizes again.

Wall-clock p50/p99 in microseconds over --calls calls, after a warm-up; ``--postgres`` also
runs on a temporary PostgreSQL database (created and dropped).

Run with ``.venv/bin/python bench/credits_hot_path.py [--postgres]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from modelyard.billing import hold_rows, ledger
from modelyard.billing.credits import GrantCreate
from modelyard.billing.holds import CreditKeeper
from modelyard.billing.subscriptions import SubscriptionCreate
from modelyard.db.engine import create_engine
from modelyard.db.migrate import upgrade_to_head
from modelyard.registry.actors import Actor
from modelyard.registry.tx import Database
from modelyard.registry.users import UserCreate
from modelyard.services import Registry

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ESTIMATE = Decimal("0.05")  # about 100 tokens at 0.5 credits per 1k
USED = Decimal("0.02")


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls timed from the hold")
    parser.add_argument("--visits", type=int, default=300, help="database visits timed")
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    return parser.parse_args()


def _summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


async def bench(label: str, url: str, args: argparse.Namespace) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    registry = Registry(Database(engine, None))
    try:
        admin = Actor.operator("bench")
        user = await registry.users.create(admin, UserCreate(email="bench@example.com"))
        await registry.subscriptions.create(admin, SubscriptionCreate(user_id=user.id, plan="free"))
        await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=Decimal(10**9)))
        keeper = CreditKeeper(registry.db, "bench")
        for _ in range(1000):  # warm-up
            keeper.settle(await keeper.reserve(user.id, ESTIMATE), USED)
        keeper.syncs = 0
        held: list[float] = []
        for _ in range(args.calls):
            started = time.perf_counter()
            keeper.settle(await keeper.reserve(user.id, ESTIMATE), USED)
            held.append((time.perf_counter() - started) * 1e6)
        memory_syncs = keeper.syncs
        account = keeper._accounts[user.id]
        visits: list[float] = []
        for _ in range(args.visits):
            started = time.perf_counter()
            async with account.lock:
                await keeper._sync(user.id, account, ESTIMATE)
            visits.append((time.perf_counter() - started) * 1e6)
        await keeper.stop()
        naive: list[float] = []
        for _ in range(args.visits):
            started = time.perf_counter()
            async with hold_rows.transaction(registry.db) as session:
                now = registry.db.clock()
                await ledger.lock_user(session, user.id)
                left = await ledger.spendable(session, user.id, now)
                left -= await ledger.held(session, user.id, now)
                assert left >= ESTIMATE
            naive.append((time.perf_counter() - started) * 1e6)
        rows = [
            (label, f"hold (memory), {memory_syncs} visits", args.calls, *_summary(held)),
            (label, "hold (one visit)", args.visits, *_summary(visits)),
            (label, "ledger per call", args.visits, *_summary(naive)),
            await _scarce(registry, label, args.visits),
        ]
        if registry.db.is_postgres:
            rows.append(await _ask(registry, label, min(args.visits, 100)))
        return rows
    finally:
        await engine.dispose()


async def _user(registry: Registry, email: str, amount: Decimal) -> uuid.UUID:
    admin = Actor.operator("bench")
    user = await registry.users.create(admin, UserCreate(email=email))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=amount))
    return user.id


async def _scarce(registry: Registry, label: str, calls: int) -> tuple[object, ...]:
    """Calls of a user with credits for 4 (charges never reach the ledger: it stays 4)."""
    user_id = await _user(registry, "scarce@example.com", ESTIMATE * 4)
    keeper = CreditKeeper(registry.db, "bench-scarce")
    samples: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        keeper.settle(reservation := await keeper.reserve(user_id, ESTIMATE), USED)
        samples.append((time.perf_counter() - started) * 1e6)
        keeper.done(reservation.user_id, USED, stored=False)
        await keeper.shrinker.quiet()
    visits = f"{keeper.syncs} resizes, {keeper.shrinker.writes} shrinks"
    await keeper.stop()
    return (label, f"scarce, {visits}", calls, *_summary(samples))


async def _ask(registry: Registry, label: str, calls: int) -> tuple[object, ...]:
    """b needs the credit a holds unused: b's ``reserve`` asks a, waits, resizes."""
    user_id = await _user(registry, "ask@example.com", ESTIMATE * 2)
    a, b = CreditKeeper(registry.db, "bench-a"), CreditKeeper(registry.db, "bench-b")
    await a.start()
    await b.start()
    samples: list[float] = []
    try:
        for _ in range(calls):
            spare = await a.reserve(user_id, ESTIMATE * 2)
            a._accounts[user_id].scarce = False  # keep it unused in a's hold, as headroom is
            a.release(spare)
            started = time.perf_counter()
            got = await b.reserve(user_id, ESTIMATE)
            samples.append((time.perf_counter() - started) * 1e6)
            b.release(got)
            await b.shrinker.quiet()
    finally:
        await a.stop()
        await b.stop()
    return (label, "ask the other (short)", calls, *_summary(samples))


async def with_temp_postgres(args: argparse.Namespace) -> list[tuple[object, ...]]:
    name = f"modelyard_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(PG_ADMIN_URL).set(drivername="postgresql+asyncpg", database=name)
        return await bench("postgresql", url.render_as_string(hide_password=False), args)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    args = _parse_args()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = await bench("sqlite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args)
    if args.postgres:
        rows += await with_temp_postgres(args)
    print(f"\n{'engine':<11} {'per call':<32} {'calls':>6} {'p50 µs':>9} {'p99 µs':>9}")
    for engine, name, calls, p50, p99 in rows:
        print(f"{engine:<11} {name:<32} {calls:>6} {p50:>9.1f} {p99:>9.1f}")


if __name__ == "__main__":
    asyncio.run(main())
