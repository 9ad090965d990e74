"""Revoking an access token, suspending its user or disabling its client takes effect on
every replica within a second: two servers on one database (each its own engine, as two
processes would be), both having served the token from their caches, and the change made
through the first; the second must refuse the token within a second.

On PostgreSQL the change arrives by LISTEN/NOTIFY; SQLite replicas share one file and poll
the generation every ``refresh_interval_s`` (0.25 s here)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from modelyard.registry.actors import Actor
from modelyard.registry.users import UserCreate, UserUpdate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running
from tests.support import oauth_rows

MODEL = "fake-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
Replicas = tuple[str, str, Registry, Actor, str]  # first url, second url, registry, admin, user


async def _status(url: str, token: str) -> int:
    async with httpx.AsyncClient(base_url=url) as http:
        headers = {"Authorization": f"Bearer {token}"}
        return (await http.post("/v1/chat/completions", json=CHAT, headers=headers)).status_code


@pytest.fixture
async def replicas(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Replicas]:
    provider = await registry.providers.create(admin, {"name": "fake-a", "kind": "fake"})
    await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": MODEL,
            "price": {"input_per_mtok": "1", "output_per_mtok": "1"},
        },
    )
    user = await registry.users.create(admin, UserCreate(email="app@example.com"))
    await oauth_rows.client_pk(registry)  # registered (audited) before the servers start
    interval = 1.0 if registry.db.is_postgres else 0.25
    first_settings = settings.model_copy(
        update={
            "usage_outbox": tmp_path / "first.outbox",
            "billing_interval_s": 0,
            "refresh_interval_s": interval,
        }
    )
    second_settings = first_settings.model_copy(update={"usage_outbox": tmp_path / "second.outbox"})
    other = Registry.open(second_settings)  # another replica: its own engine and connections
    try:
        async with (
            running(first_settings, registry) as (first, _a),
            running(second_settings, other) as (second, app),
        ):
            holder = app.state.gateway.holder
            for _ in range(500):
                if holder.listening or not registry.db.is_postgres:
                    break
                await asyncio.sleep(0.01)
            yield first, second, registry, admin, str(user.id)
    finally:
        await other.close()


async def _refused_within_a_second(
    replicas: Replicas, change: Callable[[Registry, Actor, str, str], Awaitable[None]]
) -> None:
    first, second, registry, admin, user_id = replicas
    token = await oauth_rows.mint(registry, user_id)
    for _ in range(2):  # the second call of each is served from the replica's cache
        assert await _status(first, token) == 200
        assert await _status(second, token) == 200
    await change(registry, admin, user_id, token)
    started = time.monotonic()
    for name, url in (("second", second), ("first", first)):
        while await _status(url, token) != 401:
            assert time.monotonic() - started < 1.0, f"the {name} replica still serves it"
            await asyncio.sleep(0.02)


async def _revoke(registry: Registry, _admin: Actor, _user: str, token: str) -> None:
    await oauth_rows.revoke(registry, token)


async def _suspend(registry: Registry, admin: Actor, user_id: str, _token: str) -> None:
    await registry.users.update(admin, user_id, UserUpdate(status="suspended"))


async def _delete(registry: Registry, admin: Actor, user_id: str, _token: str) -> None:
    await registry.users.delete(admin, user_id)


async def _disable_client(registry: Registry, _admin: Actor, _user: str, _token: str) -> None:
    await oauth_rows.disable_client(registry)


async def _delete_client(registry: Registry, _admin: Actor, _user: str, _token: str) -> None:
    await oauth_rows.delete_client(registry)


async def _disconnect(registry: Registry, _admin: Actor, user_id: str, _token: str) -> None:
    """The user disconnects the app on their connected-apps page."""
    await oauth_rows.consent(registry, user_id)
    user = Actor.user(uuid.UUID(user_id), "member", "app@example.com", frozenset())
    await registry.connected_apps.revoke(user, oauth_rows.APP)


@pytest.mark.parametrize(
    "change",
    [_revoke, _suspend, _delete, _disable_client, _delete_client, _disconnect],
    ids=[
        "revoked",
        "user-suspended",
        "user-deleted",
        "client-disabled",
        "client-deleted",
        "app-disconnected",
    ],
)
async def test_the_other_replica_refuses_the_token_within_a_second(
    replicas: Replicas, change: Callable[[Registry, Actor, str, str], Awaitable[None]]
) -> None:
    await _refused_within_a_second(replicas, change)


async def test_a_restored_user_is_served_again(replicas: Replicas) -> None:
    """Refusals are dropped with the generation too: reinstating works at once."""
    first, second, registry, admin, user_id = replicas
    token = await oauth_rows.mint(registry, user_id)
    assert await _status(second, token) == 200
    await _suspend(registry, admin, user_id, token)
    started = time.monotonic()
    while await _status(second, token) != 401:  # refused, and the refusal remembered
        assert time.monotonic() - started < 1.0
        await asyncio.sleep(0.02)
    assert await _status(second, token) == 401
    await registry.users.update(admin, user_id, UserUpdate(status="active"))
    started = time.monotonic()
    for url in (second, first):
        while await _status(url, token) != 200:
            assert time.monotonic() - started < 1.0
            await asyncio.sleep(0.02)
