"""The gateway's snapshot: built from the registry in one go, refreshed when it changes, kept
while the database is away."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from modelyard.errors import NotReady, Unauthenticated
from modelyard.gateway.refresh import SnapshotHolder
from modelyard.gateway.snapshot_load import load
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.secrets import Keyring, generate_key
from modelyard.registry.tx import Database
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings


async def _setup(registry: Registry, admin: Actor) -> tuple[str, str]:
    provider = await registry.providers.create(
        admin, {"name": "openai", "kind": "openai", "api_key": "sk-snapshot-0123456789"}
    )
    model = await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": "gpt-4o",
            "price": {"input_per_mtok": "2.5", "output_per_mtok": "10"},
        },
    )
    user = await registry.users.create(admin, UserCreate(email="caller@example.com"))
    issued = await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))
    return issued.key, str(model.id)


async def test_snapshot_holds_opened_keys_models_prices_and_caller_keys(
    registry: Registry, admin: Actor
) -> None:
    token, model_id = await _setup(registry, admin)
    snap = await load(registry.db)

    caller = snap.authenticate(token, registry.db.clock())
    assert "llm.inference" in caller.scopes
    with pytest.raises(Unauthenticated):
        snap.authenticate(token + "x", registry.db.clock())
    provider = snap.provider_by_name("openai", None)
    assert provider is not None
    assert provider.api_key == "sk-snapshot-0123456789"
    assert "sk-snapshot" not in repr(provider)  # the opened key is kept out of reprs
    (model,) = snap.by_model_id["gpt-4o"]
    assert str(model.id) == model_id
    price = snap.price_at(model.id, registry.db.clock())
    assert price is not None
    assert price.input_per_mtok == Decimal("2.5")
    assert snap.price_at(model.id, registry.db.clock() - timedelta(days=1)) is None
    assert snap.settings["models.deprecated_policy"] == "warn"


async def test_revoked_and_expired_keys_and_deleted_users_are_not_in_the_snapshot(
    registry: Registry, admin: Actor
) -> None:
    token, _ = await _setup(registry, admin)
    snap = await load(registry.db)
    key = snap.authenticate(token, registry.db.clock())
    await registry.keys.revoke(admin, key.key_id)
    with pytest.raises(Unauthenticated):
        (await load(registry.db)).authenticate(token, registry.db.clock())


async def test_holder_reloads_only_when_the_generation_moves(
    registry: Registry, admin: Actor
) -> None:
    await _setup(registry, admin)
    holder = SnapshotHolder(registry.db)
    assert await holder.refresh() is True
    first = holder.get()
    statements: list[str] = []
    engine = registry.db.engine.sync_engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert await holder.refresh() is False
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert holder.get() is first
    assert [s for s in statements if s.lstrip().upper().startswith("SELECT")] == [
        s for s in statements if "registry_state" in s
    ]
    await registry.providers.create(admin, {"name": "local", "kind": "ollama"})
    assert await holder.refresh() is True
    assert holder.get().provider_by_name("local", None) is not None


async def test_a_reload_begun_before_a_change_never_installs_over_a_later_one(
    registry: Registry, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two reloads at once (the background loop nudged by one change, a caller after the
    next): the one that read the registry first must not install its older snapshot last."""
    holder = SnapshotHolder(registry.db)
    await holder.refresh()
    read, release = asyncio.Event(), asyncio.Event()
    calls = 0

    async def slow_first_load(db: Database) -> object:
        nonlocal calls
        calls += 1
        snapshot = await load(db)
        if calls == 1:  # the first reload has read the registry; it finishes late
            read.set()
            await release.wait()
        return snapshot

    monkeypatch.setattr("modelyard.gateway.refresh.load", slow_first_load)
    await registry.providers.create(admin, {"name": "first", "kind": "ollama"})
    early = asyncio.create_task(holder.refresh())
    await read.wait()
    await registry.providers.create(admin, {"name": "second", "kind": "ollama"})
    late = asyncio.create_task(holder.refresh())
    await asyncio.sleep(0.05)  # the later reload is waiting its turn (or, unfixed, is done)
    release.set()
    await asyncio.gather(early, late)
    assert holder.get().provider_by_name("second", None) is not None


async def test_holder_keeps_serving_when_the_database_goes_away(
    registry: Registry, admin: Actor
) -> None:
    token, _ = await _setup(registry, admin)
    holder = SnapshotHolder(registry.db)
    await holder.refresh()
    from modelyard.db.engine import create_engine

    gone = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    holder.db = Database(gone, registry.db.keyring, registry.db.clock)
    try:
        assert await holder.refresh() is False
        assert holder.database_ok is False
        assert holder.get().authenticate(token, registry.db.clock()).user_id is not None
    finally:
        await gone.dispose()


async def test_a_gateway_started_without_a_database_is_not_ready_until_it_answers() -> None:
    from modelyard.db.engine import create_engine

    gone = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    holder = SnapshotHolder(Database(gone, Keyring.from_texts([generate_key()], "test")))
    try:
        await holder.refresh()
        assert holder.ready is False
        with pytest.raises(NotReady):
            holder.get()
    finally:
        await gone.dispose()


async def test_a_change_made_by_another_replica_arrives_at_once_on_postgresql(
    settings: Settings, registry: Registry, admin: Actor
) -> None:
    if not registry.db.is_postgres:
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite replicas share one file and poll")
    await _setup(registry, admin)
    other = Registry.open(settings)  # another replica: its own engine, its own connections
    holder = SnapshotHolder(other.db, interval_s=60)  # the poll alone would take a minute
    await holder.start()
    try:
        for _ in range(200):
            if holder.listening:
                break
            await asyncio.sleep(0.01)
        assert holder.listening
        await registry.providers.create(admin, {"name": "elsewhere", "kind": "ollama"})
        for _ in range(200):
            if holder.get().provider_by_name("elsewhere", None) is not None:
                break
            await asyncio.sleep(0.01)
        assert holder.get().provider_by_name("elsewhere", None) is not None
    finally:
        await holder.stop()
        await other.close()
    assert holder.listening is False
