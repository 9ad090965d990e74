"""Migration 0008 moves API keys made before it to the scope vocabulary, on SQLite and
PostgreSQL: ``inference`` becomes ``llm.inference`` + ``models.read`` (it listed models
too), ``registry:read`` ``registry.read``, ``registry:write`` ``registry.write``; such a key
keeps working after the upgrade with what it could do before; the downgrade maps the new
names back (the narrower reads to ``registry:read``)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.db.migrate import upgrade_to_head
from modelyard.db.types import JSONDoc, UTCDateTime, utcnow
from modelyard.errors import InsufficientScope
from modelyard.registry.apikeys import hash_token
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.db.test_migrations import _alembic, empty_engine  # noqa: F401 - the fixture

USERS = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    *(sa.column(name) for name in ("email", "email_normalized", "display_name")),
    *(sa.column(name) for name in ("role", "status", "email_verified")),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
KEYS = sa.table(
    "api_keys",
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    *(sa.column(name) for name in ("name", "prefix", "key_hash")),
    sa.column("scopes", JSONDoc),
    sa.column("created_at", UTCDateTime()),
)
# scopes before 0008 -> after it
RENAMED = {
    "inference": (["inference"], ["llm.inference", "models.read"]),
    "reader": (["registry:read"], ["registry.read"]),
    "writer": (["registry:write"], ["registry.write"]),
    "all": (
        ["inference", "registry:read", "registry:write"],
        ["llm.inference", "models.read", "registry.read", "registry.write"],
    ),
}


def token(name: str) -> str:
    return f"myk_before-0008-{name}-0123456789abcdef"


async def insert_key(engine: AsyncEngine, user_id: uuid.UUID, name: str, scopes: list[str]) -> None:
    row = {"id": uuid.uuid4(), "user_id": user_id, "name": name, "prefix": token(name)[:12]}
    row |= {"key_hash": hash_token(token(name)), "scopes": scopes, "created_at": utcnow()}
    async with engine.begin() as conn:
        await conn.execute(KEYS.insert().values(**row))


async def scopes_by_name(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(KEYS.c.name, KEYS.c.scopes))
        return {name: scopes for name, scopes in rows}


async def before_0008(engine: AsyncEngine) -> uuid.UUID:
    """A database at 0007 with one member and the keys of RENAMED, under the old names."""
    await _alembic(engine, command.upgrade, "0007")
    user_id, now = uuid.uuid4(), utcnow()
    user = {"id": user_id, "email": "old@example.com", "email_normalized": "old@example.com"}
    user |= {"display_name": "", "role": "member", "status": "active", "email_verified": False}
    async with engine.begin() as conn:
        await conn.execute(USERS.insert().values(**user, created_at=now, updated_at=now))
    for name, (before, _after) in RENAMED.items():
        await insert_key(engine, user_id, name, before)
    return user_id


async def test_0008_renames_existing_keys_scopes_and_they_keep_working(
    empty_engine: AsyncEngine,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    await before_0008(empty_engine)
    await upgrade_to_head(empty_engine)
    assert await scopes_by_name(empty_engine) == {n: after for n, (_, after) in RENAMED.items()}

    # a key from before keeps doing what it did, under the new names
    url = empty_engine.url.render_as_string(hide_password=False)
    registry = Registry.open(Settings(database_url=url, master_key_file=tmp_path / "key"))
    try:
        old = await registry.keys.authenticate(token("inference"))
        assert old.scopes == {"llm.inference", "models.read"}
        old.require_scope("models.read")
        with pytest.raises(InsufficientScope) as refused:
            old.require_scope("registry.read")
        assert refused.value.details == {"scope": "registry.read"}
        reader = await registry.keys.authenticate(token("reader"))
        for narrower in ("models.read", "credits.read", "user.info"):  # registry.read covers
            reader.require_scope(narrower)
    finally:
        await registry.close()


async def test_0008_downgrade_renames_the_scopes_back(
    empty_engine: AsyncEngine,  # noqa: F811 - the fixture imported above
) -> None:
    user_id = await before_0008(empty_engine)
    await upgrade_to_head(empty_engine)
    await insert_key(empty_engine, user_id, "narrow", ["credits.read", "user.info"])
    await _alembic(empty_engine, command.downgrade, "0007")
    back = {name: before for name, (before, _) in RENAMED.items()} | {"narrow": ["registry:read"]}
    assert await scopes_by_name(empty_engine) == back
