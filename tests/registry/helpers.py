"""Shared helpers of the registry service tests: members, provider specs, "nothing changed"."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import pytest
from sqlalchemy import func, select

from modelyard.db.tables import AuditEvent, Base
from modelyard.errors import ModelyardError
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.common import PageRequest
from modelyard.registry.provider_views import ProviderView
from modelyard.registry.scopes import SCOPES
from modelyard.registry.users import UserCreate
from modelyard.services import Registry

State = dict[str, list[tuple[Any, ...]]]
Event = tuple[str, str, str]
ALL = PageRequest(limit=500)
TEST_KEY = "sk-test-0123456789abcdef"


async def member(registry: Registry, admin: Actor, name: str = "alice") -> Actor:
    """A member acting through their own API key, as the API would see them."""
    user = await registry.users.create(admin, UserCreate(email=f"{name}@example.com"))
    spec = ApiKeyCreate(name=f"{name} key", user_id=user.id, scopes=list(SCOPES))
    issued = await registry.keys.create(admin, spec)
    return await registry.keys.authenticate(issued.key)


def openai(name: str, key: str = TEST_KEY, **fields: Any) -> dict[str, Any]:
    return {"name": name, "kind": "openai", "api_key": key, **fields}


# A public address: a member's provider may reach no other (a literal, so no DNS lookup).
PUBLIC_URL = "http://93.184.215.14:11434"


def ollama(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "kind": "ollama", "base_url": PUBLIC_URL, **fields}


async def db_state(registry: Registry) -> State:
    """Every row of every registry table, in primary-key order."""
    state: State = {}
    async with registry.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
            state[table.name] = [tuple(row) for row in rows]
    return state


async def audit_count(registry: Registry) -> int:
    async with registry.db.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def last_event_id(registry: Registry) -> int:
    async with registry.db.engine.connect() as conn:
        return int(await conn.scalar(select(func.max(AuditEvent.id))) or 0)


async def events_after(registry: Registry, after_id: int) -> list[AuditEvent]:
    async with registry.db.engine.connect() as conn:
        rows = await conn.execute(
            select(AuditEvent.__table__).where(AuditEvent.id > after_id).order_by(AuditEvent.id)
        )
        return [AuditEvent(**row._mapping) for row in rows]


def summary(events: list[AuditEvent]) -> list[Event]:
    return [(e.action, e.entity_type, e.entity_id) for e in events]


async def fails(registry: Registry, code: str, call: Awaitable[Any]) -> ModelyardError:
    """Await ``call``, expect a registry error with ``code``, and prove nothing changed."""
    try:
        before, events = await db_state(registry), await audit_count(registry)
    except BaseException:
        await _discard(call)
        raise
    with pytest.raises(ModelyardError) as info:
        await call
    assert info.value.code == code, info.value.to_dict()
    assert await audit_count(registry) == events
    assert await db_state(registry) == before
    return info.value


async def _discard(call: Awaitable[Any]) -> None:
    close = getattr(call, "close", None)
    if close is not None:
        close()


async def providers(registry: Registry, admin: Actor) -> list[ProviderView]:
    return (await registry.providers.list(admin, ALL)).items


async def defaults_of(registry: Registry, admin: Actor, owner: uuid.UUID | None) -> list[uuid.UUID]:
    return [
        p.id for p in await providers(registry, admin) if p.is_default and p.owner_user_id == owner
    ]
