"""The database goes away mid-load: valid keys keep working from the snapshot, usage waits in
the outbox, and afterwards there is exactly one row per completed call."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import openai
import pytest
from sqlalchemy import func, select

from modelyard.db.tables import UsageEvent
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running


async def _terminate_others(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=name)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()


async def test_connections_killed_mid_load_lose_no_usage_row(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("needs a database server whose connections can be killed")
    provider = await registry.providers.create(admin, {"name": "fake", "kind": "fake"})
    await registry.models.create(admin, {"provider_id": provider.id, "model_id": "m"})
    user = await registry.users.create(admin, UserCreate(email="app@example.com"))
    key = (await registry.keys.create(admin, ApiKeyCreate(name="k", user_id=user.id))).key
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    completed = 0
    async with running(local, registry) as (url, _app):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        for n in range(60):
            if n % 15 == 7:
                await _terminate_others(settings.database_url)
            await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"call {n}"}]
            )
            completed += 1
            await asyncio.sleep(0.01)
        await client.close()
    async with registry.db.engine.connect() as conn:
        rows = await conn.scalar(select(func.count()).select_from(UsageEvent))
    assert rows == completed == 60
