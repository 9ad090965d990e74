"""The hot path touches no database: after warm-up, 100 calls cause no SQL but the batched
usage writes."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
from sqlalchemy import event

from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running


async def test_a_hundred_calls_issue_no_sql_but_batched_usage_inserts(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    provider = await registry.providers.create(admin, {"name": "fake", "kind": "fake"})
    await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": "m",
            "price": {"input_per_mtok": "1", "output_per_mtok": "1"},
        },
    )
    user = await registry.users.create(admin, UserCreate(email="app@example.com"))
    key = (await registry.keys.create(admin, ApiKeyCreate(name="k", user_id=user.id))).key
    local = settings.model_copy(
        update={
            "usage_outbox": tmp_path / "outbox",
            "refresh_interval_s": 60.0,
            "billing_interval_s": 0,  # the billing clock's own queries are not per request
            "partition_interval_s": 0,  # nor the usage partitions' upkeep
        }
    )
    statements: list[str] = []

    def seen(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        statements.append(statement)

    async with running(local, registry) as (url, app):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        messages = [{"role": "user", "content": "hi"}]
        await client.chat.completions.create(model="m", messages=messages)  # warm-up
        await app.state.gateway.recorder.flush()
        holder = app.state.gateway.holder
        for _ in range(500):  # on PostgreSQL, let the change listener connect and catch up
            if holder.listening or not registry.db.is_postgres:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        # A long flush interval makes the batching independent of this machine's speed: the
        # rows wait for the writer's next tick (at most one) or the explicit flush below.
        app.state.gateway.recorder.flush_interval_s = 60.0
        event.listen(registry.db.engine.sync_engine, "before_cursor_execute", seen)
        try:
            for n in range(100):
                stream = n % 2 == 1
                if stream:
                    async for _ in await client.chat.completions.create(
                        model="m", messages=messages, stream=True
                    ):  # type: ignore[arg-type]
                        pass
                else:
                    await client.chat.completions.create(model="m", messages=messages)
            await app.state.gateway.recorder.flush()
        finally:
            event.remove(registry.db.engine.sync_engine, "before_cursor_execute", seen)
        await client.close()

    writes = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO USAGE_EVENTS")]
    # The daily roll-ups are added in each batch's transaction: one upsert for the batch's
    # few keys (one user, model and provider, one day), never one per call.
    rollups = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO USAGE_DAILY")]
    others = [
        s
        for s in statements
        if s not in writes
        and s not in rollups
        and s.strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT")
    ]
    assert others == []
    # At most two batches (a writer tick and the flush), each one statement.
    assert 1 <= len(writes) <= 2
    assert 1 <= len(rollups) <= len(writes)
