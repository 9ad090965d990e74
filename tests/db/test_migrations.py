"""The migrations against the models, and the invariants the database itself holds."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from modelyard.db import migrate
from modelyard.db.engine import create_engine
from modelyard.db.migrate import alembic_config, is_at_head, upgrade_to_head
from modelyard.db.partitions import include_name, include_object, is_partition_name
from modelyard.db.rollup_tables import UsageDaily
from modelyard.db.tables import AuditEvent, Base, Provider, UsageEvent, User
from modelyard.errors import Misconfigured
from modelyard.registry.actors import Actor
from modelyard.registry.tx import Database
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.usage.report import UsageFilter
from modelyard.usage.writer import UsageWriter
from tests.support import pg
from tests.usage.test_recorder import usage_record

Row = tuple[str | None, str, bool, bool]  # owner slot, name, is_default, is_active


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_engine(
    request: pytest.FixtureRequest, tmp_path: Path, pg_database: str | None
) -> AsyncIterator[AsyncEngine]:
    """An engine on a database nobody has migrated yet."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
        yield engine
        await engine.dispose()
        return
    if pg_database is None:  # the session fixture has already probed the server
        pytest.skip("PostgreSQL not available")
    name = f"modelyard_empty_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(host=pg.HOST, port=pg.PORT, user=pg.USER, database=pg.ADMIN_DB)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    engine = create_engine(pg.url_for(name))
    try:
        yield engine
    finally:
        await engine.dispose()
        await pg.drop_database(name)


def _differences(connection: Connection) -> list[Any]:
    opts = {  # as env.py compares
        "compare_type": True,
        "include_name": include_name,
        "include_object": include_object(connection.dialect.name),
    }
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, Base.metadata))


async def _differences_from_models(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return await conn.run_sync(_differences)


async def _alembic(engine: AsyncEngine, step: Callable[[Config, str], None], target: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        step(config, target)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def _tables(engine: AsyncEngine) -> set[str]:
    """The tables, less the monthly partitions of usage_events (PostgreSQL)."""
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    return {name for name in names if not is_partition_name(name)}


async def test_empty_database_upgraded_to_head_matches_the_models(
    empty_engine: AsyncEngine,
) -> None:
    await upgrade_to_head(empty_engine)
    assert await is_at_head(empty_engine)
    assert await _differences_from_models(empty_engine) == []


async def test_downgrade_to_base_then_upgrade_again_restores_the_schema(
    empty_engine: AsyncEngine,
) -> None:
    await upgrade_to_head(empty_engine)
    await _alembic(empty_engine, command.downgrade, "base")
    assert await _tables(empty_engine) == {"alembic_version"}
    await upgrade_to_head(empty_engine)
    assert await is_at_head(empty_engine)
    assert await _tables(empty_engine) == {*Base.metadata.tables, "alembic_version"}
    assert await _differences_from_models(empty_engine) == []


async def _audit_rows(registry: Registry) -> list[tuple[Any, ...]]:
    async with registry.db.engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(select(AuditEvent.__table__))]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor_label = 'forged'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
    ids=["update", "delete", "truncate"],
)
async def test_postgres_trigger_refuses_to_change_audit_events(
    registry: Registry, admin: Actor, statement: str
) -> None:
    before = await _audit_rows(registry)
    assert before, "bootstrap should have written audit events"
    with pytest.raises(DBAPIError, match="append-only"):
        async with registry.db.engine.begin() as conn:
            await conn.execute(text(statement))
    assert await _audit_rows(registry) == before


INDEX_CASES: dict[str, tuple[list[Row], bool]] = {
    "two system providers with one name": ([(None, "x", False, False)] * 2, False),
    "one owner with one name twice": ([("a", "x", False, False)] * 2, False),
    "one name for two owners": ([("a", "x", False, False), ("b", "x", False, False)], True),
    "one name for system and a user": ([(None, "x", False, False), ("a", "x", False, False)], True),
    "two system defaults": ([(None, "x", True, False), (None, "y", True, False)], False),
    "two defaults for one owner": ([("a", "x", True, False), ("a", "y", True, False)], False),
    "one default per owner": (
        [(None, "x", True, False), ("a", "y", True, False), ("b", "z", True, False)],
        True,
    ),
    "two active providers": ([(None, "x", False, True), (None, "y", False, True)], False),
}


@pytest.mark.parametrize(("rows", "allowed"), INDEX_CASES.values(), ids=INDEX_CASES.keys())
async def test_partial_unique_indexes_hold_in_the_database(
    registry: Registry, rows: list[Row], allowed: bool
) -> None:
    owners = {"a": uuid.uuid4(), "b": uuid.uuid4()}
    async with AsyncSession(registry.db.engine) as session, session.begin():
        session.add_all(
            User(id=uid, email=f"{slot}@example.com", email_normalized=f"{slot}@example.com")
            for slot, uid in owners.items()
        )

    def provider(slot: str | None, name: str, is_default: bool, is_active: bool) -> Provider:
        return Provider(
            owner_user_id=owners[slot] if slot else None,
            kind="ollama",
            name=name,
            display_name=name,
            base_url="http://localhost:11434",
            is_default=is_default,
            is_active=is_active,
        )

    async def insert() -> None:
        async with AsyncSession(registry.db.engine) as session, session.begin():
            for row in rows:  # one statement per row: no batching hides which one failed
                session.add(provider(*row))
                await session.flush()

    if allowed:
        await insert()
    else:
        with pytest.raises(IntegrityError):
            await insert()
    async with registry.db.engine.connect() as conn:
        stored = await conn.scalar(select(text("count(*)")).select_from(Provider.__table__))
    assert stored == (len(rows) if allowed else 0)


_OLD_CALLS_START = datetime(2026, 10, 1, tzinfo=UTC)


async def test_the_upgrade_fills_the_rollups_from_the_stored_calls(
    empty_engine: AsyncEngine,
) -> None:
    await _alembic(empty_engine, command.upgrade, "0008")
    rng = random.Random(9)
    rows = [
        usage_record(
            f"old-{n}",
            occurred_at=_OLD_CALLS_START + timedelta(minutes=rng.randrange(60 * 24 * 10)),
            model_name=rng.choice(["a", "b"]),
            status=rng.choice(["ok", "error"]),
            cost=Decimal(rng.randrange(10**11)).scaleb(-10),
        ).to_row()
        for n in range(300)
    ]
    async with empty_engine.begin() as conn:
        await conn.execute(insert(UsageEvent.__table__), rows)
    await upgrade_to_head(empty_engine)
    registry = Registry(Database(empty_engine, keyring=None))
    operator = Actor.operator("test")
    until = _OLD_CALLS_START.date() + timedelta(days=10)
    series = await registry.usage_daily.series(operator, _OLD_CALLS_START.date(), until)
    report = await registry.usage.totals(operator, UsageFilter(), ["day"])
    assert [(t.day, t.calls, t.errors, t.cost) for t in series] == [
        (t.day, t.calls, t.errors, t.cost) for t in report
    ]
    assert sum(t.calls for t in series) == 300
    await _alembic(empty_engine, command.downgrade, "0008")
    assert "usage_daily" not in await _tables(empty_engine)


async def test_a_migration_that_would_orphan_rows_on_sqlite_is_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Foreign keys are off while a migration runs on SQLite; the check before commit is
    what stops one that deletes a row others still refer to."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'orphans.db'}")
    try:
        await upgrade_to_head(engine)
        real_move = migrate._move

        def orphaning_move(connection: Connection, target: str, *, down: bool) -> Any:
            moved = real_move(connection, target, down=down)
            connection.exec_driver_sql(
                "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at) "
                "VALUES ('k1', 'nobody', 'k', 'myk_x', 'h', '[]', '2026-01-01')"
            )
            return moved

        monkeypatch.setattr(migrate, "_move", orphaning_move)
        with pytest.raises(Misconfigured, match="no longer exist"):
            await migrate.downgrade_to(engine, "0008")
        assert await migrate.current_revision(engine) == migrate.head_revision()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM api_keys"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_the_pair_and_month_grains_are_summed_exactly_from_the_finer_ones(
    empty_engine: AsyncEngine,
) -> None:
    """Migrations 0012 and 0013 fill the (user, provider) and (model, provider) roll-ups
    from the finest grain, and the monthly ones from the daily ones; they equal what the
    writer adds call by call, fractions carried."""
    await upgrade_to_head(empty_engine)
    registry = Registry(Database(empty_engine, keyring=None))
    operator = Actor.operator("test")
    users = [
        (await registry.users.create(operator, UserCreate(email=f"u{n}@example.com"))).id
        for n in range(3)
    ]
    rng = random.Random(12)
    rows = [
        usage_record(
            f"pair-{n}",
            occurred_at=_OLD_CALLS_START + timedelta(minutes=rng.randrange(60 * 24 * 70)),
            user_id=rng.choice([*users, None]),
            model_name=rng.choice(["a", "b", "c"]),
            provider_name=rng.choice(["p", "q"]),
            currency=rng.choice(["USD", "EUR", None]),
            status=rng.choice(["ok", "error"]),
            cost=Decimal(rng.randrange(10**11)).scaleb(-10),  # up to 10, ten places
            credits=rng.choice([None, Decimal(rng.randrange(10**11)).scaleb(-10)]),
        ).to_row()
        for n in range(400)
    ]
    await UsageWriter(empty_engine).write(rows)

    async def rollups(*grains: int) -> list[tuple[Any, ...]]:
        t = UsageDaily.__table__
        query = select(t).where(t.c.grain.in_(grains)).order_by(*t.primary_key)
        async with empty_engine.connect() as conn:
            return [tuple(r) for r in await conn.execute(query)]

    new = (5, 6, *range(11, 17))  # the pairs, and every monthly grain
    written = await rollups(*new)
    assert {r[0] for r in written} == set(new)
    assert len({r[1] for r in written if r[0] > 10}) == 3  # October to December
    for grain in new:  # each call once at each grain
        assert sum(r[6] for r in written if r[0] == grain) == len(rows)
    assert all(0 <= r[13] < 10**10 and 0 <= r[15] < 10**10 for r in written)
    kept = await rollups(0, 1, 2, 3, 4)
    await _alembic(empty_engine, command.downgrade, "0011")
    assert await rollups(*new) == []
    await _alembic(empty_engine, command.upgrade, "head")
    assert await rollups(*new) == written
    assert await rollups(0, 1, 2, 3, 4) == kept
    f = UsageFilter()
    for groups in (["user", "provider"], ["model", "provider"], ["day", "model", "provider"]):
        got = await registry.usage.totals(operator, f, groups)  # months, then days
        assert got == await registry.usage.totals_from_calls(operator, f, groups)
