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
        # A test database need not survive a crash of the server: commits that do not wait
        # for the disk save ~10 ms each, and every test commits many times.
        await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
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


# Emptying with TRUNCATE makes new files for every table and index (a second or more a test
# on a busy disk); DELETE of the few rows a test leaves, and setval back to each sequence's
# start (what RESTART IDENTITY does), give the same empty tables in milliseconds. The function
# runs in the database itself: one round trip a test.
_RESET = """
CREATE OR REPLACE FUNCTION seeded.reset() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    PERFORM set_config('session_replication_role', 'replica', true);
    FOR t IN SELECT tablename FROM pg_tables
             WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
        EXECUTE format('DELETE FROM public.%I', t.tablename);
    END LOOP;
    FOR t IN SELECT sequencename, start_value FROM pg_sequences WHERE schemaname = 'public' LOOP
        PERFORM setval(format('public.%I', t.sequencename), t.start_value, false);
    END LOOP;
    INSERT INTO registry_state (id, generation) VALUES (1, 0);
    INSERT INTO public.plans SELECT * FROM seeded.plans;
END
$$
"""


async def reset(url: str) -> None:
    """Empty every table (triggers off for this transaction only), start every sequence
    afresh, and restore the state row and the rows the migrations seed (the plans, kept aside
    at the first reset)."""
    conn = await _connect(url.rsplit("/", 1)[1])
    try:
        if not await conn.fetchval("SELECT to_regproc('seeded.reset') IS NOT NULL"):
            await conn.execute("CREATE SCHEMA IF NOT EXISTS seeded")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS seeded.plans AS SELECT * FROM public.plans"
            )
            await conn.execute(_RESET)
        async with conn.transaction():
            await conn.execute("SELECT seeded.reset()")
    finally:
        await conn.close()
