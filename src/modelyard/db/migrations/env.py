"""Alembic environment.

modelyard runs migrations in process (``modelyard.db.migrate``), handing Alembic an open
connection through ``config.attributes["connection"]``. Run standalone (``alembic -c
src/modelyard/db/migrations/alembic.ini revision --autogenerate``), it connects to
``MODELYARD_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from modelyard.db.engine import create_engine
from modelyard.db.partitions import include_name, include_object
from modelyard.db.tables import Base
from modelyard.settings import Settings

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,  # the monthly partitions of usage_events
        include_object=include_object(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone() -> None:
    engine = create_engine(Settings().database_url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    asyncio.run(_run_standalone())
