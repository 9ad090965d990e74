"""The local PostgreSQL server for tests: per-run databases, emptied between tests."""

from __future__ import annotations

import asyncio
import os

import asyncpg

from modelyard.db.engine import create_engine
from modelyard.db.migrate import upgrade_to_head

HOST = os.environ.get("MODELYARD_TEST_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("MODELYARD_TEST_PG_PORT", "5432"))
USER = os.environ.get("MODELYARD_TEST_PG_USER", "postgres")
ADMIN_DB = "test"

_unavailable: list[str | None] = []


def url_for(name: str) -> str:
    return f"postgresql+asyncpg://{USER}@{HOST}:{PORT}/{name}"


async def _connect(database: str) -> asyncpg.Connection:
    return await asyncpg.connect(host=HOST, port=PORT, user=USER, database=database, timeout=5)


def unavailable() -> str | None:
    """None if the server answers, else why not (checked once per run)."""
    if not _unavailable:

        async def probe() -> None:
            conn = await _connect(ADMIN_DB)
            await conn.close()

        try:
            asyncio.run(probe())
            _unavailable.append(None)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            _unavailable.append(f"{HOST}:{PORT} {type(exc).__name__}: {exc}")
    return _unavailable[0]


async def create_database(name: str) -> str:
    conn = await _connect(ADMIN_DB)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    engine = create_engine(url_for(name))
    await upgrade_to_head(engine)
    await engine.dispose()
    return url_for(name)


async def drop_database(name: str) -> None:
    conn = await _connect(ADMIN_DB)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def reset(url: str) -> None:
    """Empty every table (triggers off for this session only) and restore the state row and
    the rows the migrations seed (the plans, kept aside at the first reset)."""
    conn = await _connect(url.rsplit("/", 1)[1])
    try:
        await conn.execute("CREATE SCHEMA IF NOT EXISTS seeded")
        if not await conn.fetchval("SELECT to_regclass('seeded.plans') IS NOT NULL"):
            await conn.execute("CREATE TABLE seeded.plans AS SELECT * FROM public.plans")
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
        names = ", ".join(f'"{t["tablename"]}"' for t in tables)
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            await conn.execute("INSERT INTO registry_state (id, generation) VALUES (1, 0)")
            await conn.execute("INSERT INTO public.plans SELECT * FROM seeded.plans")
    finally:
        await conn.close()
