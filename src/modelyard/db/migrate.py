"""Schema migrations, run in process: upgrade or downgrade to a revision, and tell whether a
database is current.

Every move first checks the database's revision against the revisions this version ships: a
database migrated by a newer version (a rollback done in the wrong order) is refused with a
message saying to downgrade it with that newer version first, instead of Alembic's
"Can't locate revision" from deep inside a migration run.

On SQLite a migration runs with foreign keys off: Alembic's batch mode changes a table by
copying it and dropping the old one, and with foreign keys on, that drop deletes every row
that refers to it (downgrading 0004 emptied `models`, 0003 `api_keys`). Before the
transaction commits, ``PRAGMA foreign_key_check`` must find no more rows pointing nowhere
than before it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.errors import Misconfigured, ValidationFailed

MIGRATIONS = Path(__file__).parent / "migrations"
BASE = "base"  # the empty schema: the target that undoes every migration


def alembic_config() -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def revisions() -> list[str]:
    """Every revision this version ships, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _position(revision: str | None, known: list[str]) -> int:
    """Index of ``revision`` in ``known`` (-1 for an empty schema); refuses an unknown one."""
    if revision is None:
        return -1
    if revision not in known:
        raise Misconfigured(
            f"the database is at revision {revision}, which this version of modelyard does not "
            f"know (it knows {known[0]} to {known[-1]}): a newer version migrated it; "
            f"downgrade it with that version (`modelyard db downgrade {known[-1]}`) before "
            "running this one"
        )
    return known.index(revision)


def _target(target: str, known: list[str]) -> int:
    if target == BASE:
        return -1
    if target == "head":
        return len(known) - 1
    if target not in known:
        raise ValidationFailed.at(
            "revision", f"{target!r} is not a revision; known: base, {', '.join(known)}, head"
        )
    return known.index(target)


def _move(connection: Connection, target: str, *, down: bool) -> tuple[str | None, str | None]:
    known = revisions()
    current = _revision_of(connection)
    here, there = _position(current, known), _target(target, known)
    if down and there > here:
        raise ValidationFailed.at(
            "revision", f"{target} is newer than the database's revision {current}; upgrade to it"
        )
    if not down and there < here:
        raise ValidationFailed.at(
            "revision",
            f"{target} is older than the database's revision {current}; downgrade to it",
        )
    config = alembic_config()
    config.attributes["connection"] = connection
    if there != here:
        goal = BASE if there < 0 else known[there]
        (command.downgrade if down else command.upgrade)(config, goal)
    return current, _revision_of(connection)


def _pragma(connection: Connection, setting: str) -> None:
    """A PRAGMA on the driver's connection, outside any transaction (SQLite ignores
    ``foreign_keys`` inside one)."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA {setting}")
    finally:
        cursor.close()


def _dangling(connection: Connection) -> int:
    """How many rows refer to a row that does not exist (SQLite, foreign keys off)."""
    return len(connection.exec_driver_sql("PRAGMA foreign_key_check").all())


def _in_one_transaction(
    connection: Connection, target: str, *, down: bool
) -> tuple[str | None, str | None]:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _pragma(connection, "foreign_keys=OFF")
    try:
        with connection.begin():
            dangling = _dangling(connection) if sqlite else 0
            moved = _move(connection, target, down=down)
            if sqlite and _dangling(connection) > dangling:
                raise Misconfigured(
                    f"moving the schema to {target} would leave rows referring to rows that "
                    "no longer exist; nothing was changed"
                )
            return moved
    finally:
        if sqlite:
            _pragma(connection, "foreign_keys=ON")


async def upgrade_to(engine: AsyncEngine, target: str = "head") -> tuple[str | None, str | None]:
    """Apply every migration up to ``target`` in one transaction; (before, after) revisions."""
    async with engine.connect() as connection:
        return await connection.run_sync(lambda c: _in_one_transaction(c, target, down=False))


async def downgrade_to(engine: AsyncEngine, target: str) -> tuple[str | None, str | None]:
    """Undo every migration after ``target`` in one transaction; (before, after) revisions."""
    async with engine.connect() as connection:
        return await connection.run_sync(lambda c: _in_one_transaction(c, target, down=True))


async def upgrade_to_head(engine: AsyncEngine) -> None:
    await upgrade_to(engine, "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_revision_of)


async def is_at_head(engine: AsyncEngine) -> bool:
    return await current_revision(engine) == head_revision()
