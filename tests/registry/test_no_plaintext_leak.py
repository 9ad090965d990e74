"""A provider's API key never leaves the sealed column: not in logs, views, audit or errors."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from modelyard.db.tables import AuditEvent, Provider
from modelyard.errors import ModelyardError
from modelyard.registry import master_keys
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.services import Registry
from tests.registry.helpers import ALL, member, ollama, openai


def _planted() -> str:
    return "sk-PLANTED-" + uuid.uuid4().hex


class Evidence:
    """Everything the registry handed back or wrote down during the test."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def keep(self, value: Any) -> Any:
        if isinstance(value, BaseModel):
            self.texts.append(value.model_dump_json())
        elif value is not None:
            self.texts.append(repr(value))
        return value

    async def failure(self, call: Any) -> ModelyardError:
        with pytest.raises(ModelyardError) as info:
            await call
        error = info.value
        self.texts += [str(error), repr(error), repr(error.to_dict()), repr(error.__cause__)]
        self.texts += [repr(error.__context__)]
        return error


def _log_everything(caplog: pytest.LogCaptureFixture) -> None:
    """DEBUG on the root and on every logger that sets its own level (SQLAlchemy does)."""
    caplog.set_level(logging.DEBUG)
    for name, found in list(logging.root.manager.loggerDict.items()):
        if isinstance(found, logging.Logger) and found.level != logging.NOTSET:
            caplog.set_level(logging.DEBUG, logger=name)


async def _rows(registry: Registry) -> list[str]:
    async with registry.db.engine.connect() as conn:
        providers = await conn.execute(select(Provider.__table__))
        events = await conn.execute(select(AuditEvent.__table__))
        return [repr(tuple(row)) for row in [*providers, *events]]


async def test_planted_provider_keys_never_appear_in_plaintext(
    registry: Registry, admin: Actor, caplog: pytest.LogCaptureFixture
) -> None:
    _log_everything(caplog)
    first, second = _planted(), _planted()
    seen = Evidence()
    alice = await member(registry, admin)

    created = seen.keep(await registry.providers.create(admin, openai("planted", key=first)))
    pid = created.id
    other = seen.keep(await registry.providers.create(admin, ollama("other")))
    seen.keep(await registry.providers.get(admin, pid))
    seen.keep(await registry.providers.get(alice, pid))
    seen.keep(await registry.providers.list(admin, ALL))
    seen.keep(await registry.providers.list(alice, ALL))
    seen.keep(await registry.providers.update(admin, pid, {"description": "d", "timeout_ms": 900}))
    seen.keep(await registry.providers.rotate_key(admin, pid, second))
    seen.keep(await registry.providers.set_enabled(admin, pid, False))
    seen.keep(await registry.providers.set_enabled(admin, pid, True))
    seen.keep(await registry.providers.set_default(admin, pid))
    seen.keep(await registry.providers.activate(admin, pid))
    seen.keep(await master_keys.reseal(registry.db, admin))
    seen.keep(await master_keys.status(registry.db))

    await seen.failure(registry.providers.create(admin, openai("planted", key=first)))
    await seen.failure(registry.providers.create(admin, openai("spaced", key=f"{first} x")))
    await seen.failure(registry.providers.create(admin, openai("typo", apikey=first)))
    await seen.failure(
        registry.providers.create(
            admin, ollama("header", custom_headers={"Authorization": f"Bearer {first}"})
        )
    )
    await seen.failure(
        registry.providers.create(admin, ollama("query", base_url=f"https://x.test/?key={first}"))
    )
    await seen.failure(registry.providers.rotate_key(admin, pid, f"{second}\n"))
    await seen.failure(registry.providers.rotate_key(alice, pid, second))
    await seen.failure(registry.providers.delete(admin, pid))  # the active provider

    await registry.providers.activate(admin, other.id)
    seen.keep(await registry.providers.delete(admin, pid))
    seen.keep(await registry.audit.list(admin, PageRequest(limit=500)))
    seen.keep(await registry.audit.verify(admin))
    for record in caplog.records:
        seen.texts += [record.getMessage(), repr(record.args), record.exc_text or ""]
    seen.texts += [caplog.text, *await _rows(registry)]

    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records), "no SQL logged"
    for planted in (first, second):
        leaks = [text for text in seen.texts if planted in text]
        assert leaks == [], f"{planted} leaked"


async def test_the_database_row_holds_only_the_sealed_key(registry: Registry, admin: Actor) -> None:
    planted = _planted()
    created = await registry.providers.create(admin, openai("planted", key=planted))
    rows = await _rows(registry)
    assert all(planted not in row for row in rows)
    assert registry.db.keyring is not None
    async with registry.db.engine.connect() as conn:
        sealed = await conn.scalar(select(Provider.api_key_sealed).where(Provider.id == created.id))
    assert sealed is not None
    assert registry.db.keyring.open(sealed, context=f"provider:{created.id}") == planted
