"""The console benchmark's data (see ``console_pages.py``): issue 16's scale in one database.

The registry rows go through the services (users, passwords, keys, providers; models and
prices bulk-inserted as ``registry_queries.py`` does); the usage rows are made here in
chunks and stored in bulk (SQLite: ``executemany`` of the usage writer's own statement and
values; PostgreSQL: ``COPY``), then the daily roll-ups are filled by the migration's code.
"""

from __future__ import annotations

import random
import socket
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import asyncpg
from registry_queries import populate
from sqlalchemy import Table, select
from sqlalchemy.engine import make_url

from modelyard.bootstrap import bootstrap
from modelyard.db.rollup_backfill import backfill
from modelyard.db.tables import ApiKey, Model, ModelPrice, Provider, UsageEvent, User
from modelyard.ids import row_ids
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.passwords import PasswordSet
from modelyard.registry.scopes import SCOPES
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from modelyard.usage.sql import bulk_insert

VERSION = 2  # bump when what is built changes: the cache is then built again
ROWS = 1_000_000
DAYS = 90
USERS = 50
CHUNK = 50_000
ADMIN_EMAIL = "admin@bench.local"
ADMIN_PASSWORD = "bench admin passphrase 1"
MEMBER_EMAIL = "member@bench.local"
MEMBER_PASSWORD = "bench member passphrase 1"
PLACES = Decimal(1).scaleb(-10)
MILLION = Decimal(1_000_000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def actor(registry: Registry, email: str) -> Actor:
    async with registry.db.read(Actor.operator("bench")) as tx:
        user = await tx.session.scalar(select(User).where(User.email == email))
        assert user is not None
        return Actor.user(user.id, user.role, user.email, frozenset(SCOPES))


async def build(url: str, key_file: Path, rows: int) -> dict[str, float]:
    """Fill the empty database at ``url``; the seconds each step took."""
    settings = Settings(database_url=url, master_key_file=key_file, admin_email=ADMIN_EMAIL)
    registry = Registry.open(settings)
    timings: dict[str, float] = {}
    try:
        start = time.perf_counter()
        boot = await bootstrap(settings, registry)
        assert boot.admin_key is not None
        admin = await registry.keys.authenticate(boot.admin_key)
        operator = Actor.operator("bench")
        assert admin.user_id is not None
        await registry.passwords.set(operator, admin.user_id, PasswordSet(password=ADMIN_PASSWORD))
        users = [admin.user_id]
        for n in range(USERS - 1):
            email = MEMBER_EMAIL if n == 0 else f"user-{n:02d}@bench.local"
            made = await registry.users.create(admin, UserCreate(email=email))
            users.append(made.id)
            if n == 0:
                await registry.passwords.set(
                    operator, made.id, PasswordSet(password=MEMBER_PASSWORD)
                )
        for user_id in users:
            await registry.keys.create(admin, ApiKeyCreate(name="bench", user_id=user_id))
        await populate(registry, admin, 50, 40)
        timings["registry: 50 users and keys, 50 providers, 2,000 models"] = (
            time.perf_counter() - start
        )
        start = time.perf_counter()
        await _usage(registry, users, rows)
        timings[f"{rows:,} usage rows inserted"] = time.perf_counter() - start
        start, start_cpu = time.perf_counter(), time.process_time()
        async with registry.db.engine.begin() as conn:
            added = await conn.run_sync(backfill)
        assert added == rows
        name = "daily roll-ups filled (migration 0009's backfill)"
        timings[name] = time.perf_counter() - start
        timings[name + ", CPU of this process"] = time.process_time() - start_cpu
    finally:
        await registry.close()
    return timings


async def _usage(registry: Registry, users: list[uuid.UUID], total: int) -> None:
    operator = Actor.operator("bench")
    async with registry.db.read(operator) as tx:
        models = (
            await tx.session.execute(
                select(
                    Model.id,
                    Model.model_id,
                    Provider.id,
                    Provider.name,
                    ModelPrice.id,
                    ModelPrice.input_per_mtok,
                    ModelPrice.output_per_mtok,
                    ModelPrice.currency,
                )
                .join(Provider, Provider.id == Model.provider_id)
                .join(ModelPrice, ModelPrice.model_id == Model.id)
                .order_by(Model.model_id)
            )
        ).all()
        keys = dict((await tx.session.execute(select(ApiKey.user_id, ApiKey.id))).all())
    table = UsageEvent.__table__
    assert isinstance(table, Table)
    engine = registry.db.engine
    bulk = bulk_insert(table, engine.dialect)
    rng = random.Random(16)
    # A few models and users carry most of the calls (a long tail, as in real use).
    model_weights = _cumulative([1 / (rank + 1) for rank in range(len(models))])
    user_weights = _cumulative([1 / (rank + 1) ** 0.7 for rank in range(len(users))])
    now = datetime.now(UTC)

    def chunk_at(start: int) -> list[dict[str, Any]]:
        count = min(CHUNK, total - start)
        return _rows(rng, start, count, models, users, keys, now, model_weights, user_weights)

    if engine.dialect.name == "sqlite":
        await engine.dispose()  # its pooled connections would keep the journal mode
        database = make_url(engine.url).database
        assert database is not None
        conn = sqlite3.connect(database, isolation_level=None)
        try:  # a one-off build: no journal, no syncs (WAL is back for the server)
            conn.execute("PRAGMA journal_mode=MEMORY")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("BEGIN")
            for start in range(0, total, CHUNK):
                chunk = chunk_at(start)
                conn.executemany(bulk.sql, bulk.values(chunk))
                _progress(start + len(chunk), total)
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
        return
    url = make_url(engine.url).set(drivername="postgresql")
    pg = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        columns = ["id", *bulk.columns]
        for start in range(0, total, CHUNK):
            chunk = chunk_at(start)
            ids = row_ids(len(chunk))
            records = [
                (uuid.UUID(new_id), *(_pg(name, row[name]) for name in bulk.columns))
                for new_id, row in zip(ids, chunk, strict=True)
            ]
            await pg.copy_records_to_table("usage_events", records=records, columns=columns)
            _progress(start + len(chunk), total)
    finally:
        await pg.close()


def _progress(done: int, total: int) -> None:
    if done % (CHUNK * 4) == 0 or done == total:
        print(f"  {done:,} of {total:,} usage rows", flush=True)


def _cumulative(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _pg(name: str, value: Any) -> Any:
    if name == "metadata":
        return "{}"
    return value


def _rows(
    rng: random.Random,
    first: int,
    count: int,
    models: list[Any],
    users: list[uuid.UUID],
    keys: dict[uuid.UUID, uuid.UUID],
    now: datetime,
    model_weights: list[float],
    user_weights: list[float],
) -> list[dict[str, Any]]:
    picked_models = rng.choices(models, cum_weights=model_weights, k=count)
    picked_users = rng.choices(users, cum_weights=user_weights, k=count)
    span = DAYS * 86_400
    out = []
    for n in range(count):
        model_pk, model_name, provider_pk, provider_name, price_pk, inp, outp, currency = (
            picked_models[n]
        )
        user_id = picked_users[n]
        prompt, completion = rng.randrange(10, 8_000), rng.randrange(0, 2_000)
        failed = rng.random() < 0.03
        priced = not failed and rng.random() > 0.02
        cost = (
            ((prompt * inp + completion * outp) / MILLION).quantize(PLACES, ROUND_HALF_EVEN)
            if priced
            else None
        )
        out.append(
            {
                "request_id": f"bench-{first + n}",
                "client_request_id": None,
                "occurred_at": now - timedelta(seconds=rng.random() * span),
                "user_id": user_id,
                "api_key_id": keys.get(user_id),
                "provider_id": provider_pk,
                "model_id": model_pk,
                "provider_name": provider_name,
                "model_name": model_name,
                "operation": "chat",
                "prompt_tokens": prompt,
                "completion_tokens": 0 if failed else completion,
                "cached_tokens": prompt // 4 if rng.random() < 0.2 else 0,
                "cache_write_tokens": 0,
                "estimated": False,
                "latency_ms": rng.randrange(80, 4_000),
                "ttft_ms": None,
                "attempts": 1,
                "status": "error" if failed else "ok",
                "error_code": "upstream_error" if failed else None,
                "price_id": price_pk if priced else None,
                "input_per_mtok": inp if priced else None,
                "output_per_mtok": outp if priced else None,
                "cached_input_per_mtok": None,
                "cache_write_per_mtok": None,
                "currency": currency if priced else None,
                "cost": cost,
                "credits": None,
                "charged_credits": None,
                "metadata": {},
            }
        )
    return out
