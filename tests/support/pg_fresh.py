"""A PostgreSQL database of a test's own (the partition tests change the usage table's
structure, which the per-run database shared by other tests must not see), migrated to a
given revision and dropped on every exit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from alembic import command
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.db.engine import create_engine
from modelyard.db.migrate import alembic_config
from tests.support import pg


async def migrate(engine: AsyncEngine, target: str, *, down: bool = False) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, target)

    async with engine.begin() as conn:
        await conn.run_sync(run)


@asynccontextmanager
async def fresh_database(revision: str = "head") -> AsyncIterator[AsyncEngine]:
    name = f"modelyard_parts_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(host=pg.HOST, port=pg.PORT, user=pg.USER, database=pg.ADMIN_DB)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    finally:
        await conn.close()
    engine = create_engine(pg.url_for(name))
    try:
        await migrate(engine, revision)
        yield engine
    finally:
        await engine.dispose()
        await pg.drop_database(name)
