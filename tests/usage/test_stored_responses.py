"""Stored /v1/responses answers: kept per user for the retention days, invisible once
expired and deleted by the purge, a previous_response_id chain walked oldest first and
bounded, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelyard.errors import NotFound, ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.tx import Database
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.usage.stored_responses import MAX_DEPTH, ResponseStore


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _response(response_id: str, previous: str | None = None) -> dict[str, Any]:
    return {"id": response_id, "model": "m", "previous_response_id": previous, "output": []}


async def _store(registry: Registry) -> tuple[ResponseStore, Clock]:
    clock = Clock()
    return ResponseStore(Database(registry.db.engine, None, clock), interval_s=0), clock


async def test_a_response_expires_after_its_retention_and_is_purged(
    registry: Registry, admin: Actor
) -> None:
    store, clock = await _store(registry)
    user = await registry.users.create(admin, UserCreate(email="a@example.com"))
    await store.save(_response("resp_1"), {"input": []}, user.id, None, retention_days=2)
    await store.save(_response("resp_2"), {"input": []}, user.id, None, retention_days=30)
    clock.now += timedelta(days=2, seconds=1)
    with pytest.raises(NotFound, match="resp_1"):
        await store.get(user.id, "resp_1")
    assert (await store.get(user.id, "resp_2")).id == "resp_2"
    assert await store.purge() == 1
    assert await store.purge() == 0
    assert (await store.get(user.id, "resp_2")).id == "resp_2"


async def test_a_chain_is_this_users_oldest_first_and_bounded(
    registry: Registry, admin: Actor
) -> None:
    store, _clock = await _store(registry)
    user = await registry.users.create(admin, UserCreate(email="a@example.com"))
    other = await registry.users.create(admin, UserCreate(email="b@example.com"))
    previous = None
    for n in range(MAX_DEPTH + 5):
        await store.save(_response(f"resp_{n}", previous), {}, user.id, None, 30)
        previous = f"resp_{n}"
    chain = await store.chain(user.id, previous or "")
    assert len(chain) == MAX_DEPTH
    assert chain[-1].id == previous
    assert chain[0].id == f"resp_{5}"
    with pytest.raises(NotFound) as refused:
        await store.chain(other.id, "resp_3")
    assert refused.value.details["param"] == "previous_response_id"
    await store.delete(user.id, "resp_2")  # a gap: the chain starts after it
    assert [row.id for row in await store.chain(user.id, "resp_4")] == ["resp_3", "resp_4"]
    with pytest.raises(NotFound):
        await store.delete(other.id, "resp_4")


@pytest.mark.parametrize("days", [0, 3651, "x"])
async def test_the_retention_setting_is_validated(
    registry: Registry, admin: Actor, days: Any
) -> None:
    with pytest.raises(ValidationFailed):
        await registry.settings.set(admin, "responses.retention_days", days)
    assert (await registry.settings.set(admin, "responses.retention_days", 7)).value == 7
