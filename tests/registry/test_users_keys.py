"""Users (email, soft delete, restore, purge, last admin) and modelyard's own API keys."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from modelyard.db.tables import ApiKey, AuditEvent, Model, Provider, User, UserPreference
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate, UserUpdate
from modelyard.services import Registry
from tests.registry.helpers import ALL, db_state, fails, ollama, openai


async def _signup(registry: Registry, admin: Actor, email: str) -> tuple[Actor, str]:
    user = await registry.users.create(admin, UserCreate(email=email))
    issued = await registry.keys.create(admin, ApiKeyCreate(name="k", user_id=user.id))
    return await registry.keys.authenticate(issued.key), issued.key


@pytest.mark.parametrize("second", ["alice@example.com", "ALICE@Example.COM", "Alice@example.com"])
async def test_email_is_unique_case_insensitively(
    registry: Registry, admin: Actor, second: str
) -> None:
    await registry.users.create(admin, UserCreate(email="Alice@Example.com"))
    await fails(registry, "EMAIL_TAKEN", registry.users.create(admin, UserCreate(email=second)))


async def test_changing_email_onto_a_taken_one_fails(registry: Registry, admin: Actor) -> None:
    await registry.users.create(admin, UserCreate(email="alice@example.com"))
    bob = await registry.users.create(admin, UserCreate(email="bob@example.com"))
    call = registry.users.update(admin, bob.id, UserUpdate(email="ALICE@example.com"))
    await fails(registry, "EMAIL_TAKEN", call)


async def test_soft_delete_stops_sign_in_disables_providers_and_keeps_history(
    registry: Registry, admin: Actor
) -> None:
    alice, token = await _signup(registry, admin, "alice@example.com")
    assert alice.user_id is not None
    mine = await registry.providers.create(alice, ollama("mine", is_default=True))

    await registry.users.delete(admin, alice.user_id)

    await fails(registry, "UNAUTHENTICATED", registry.keys.authenticate(token))
    kept = await registry.providers.get(admin, mine.id)
    assert (kept.enabled, kept.is_default) == (False, False)
    assert (await registry.users.get(admin, alice.user_id)).deleted_at is not None
    history = await registry.audit.list(admin, ALL)
    assert {"user.create", "provider.create", "user.delete"} <= {e.action for e in history.items}


async def test_restore_lets_a_deleted_user_sign_in_again(registry: Registry, admin: Actor) -> None:
    alice, token = await _signup(registry, admin, "alice@example.com")
    assert alice.user_id is not None
    await registry.users.delete(admin, alice.user_id)

    restored = await registry.users.restore(admin, alice.user_id)

    assert restored.deleted_at is None
    assert (await registry.keys.authenticate(token)).user_id == alice.user_id


OWNED = {
    "providers": Provider.owner_user_id,
    "api_keys": ApiKey.user_id,
    "user_preferences": UserPreference.user_id,
}


async def _owned_counts(registry: Registry, user_id: uuid.UUID) -> dict[str, int]:
    async with registry.db.engine.connect() as conn:
        counts = {
            name: int(await conn.scalar(select(func.count()).where(column == user_id)) or 0)
            for name, column in OWNED.items()
        }
        models = select(func.count()).select_from(Model).join(Provider)
        counts["models"] = int(
            await conn.scalar(models.where(Provider.owner_user_id == user_id)) or 0
        )
        counts["users"] = int(
            await conn.scalar(select(func.count()).where(User.id == user_id)) or 0
        )
    return counts


async def test_purge_cascades_to_providers_models_preferences_and_keys(
    registry: Registry, admin: Actor
) -> None:
    alice, _ = await _signup(registry, admin, "alice@example.com")
    assert alice.user_id is not None
    for name in ("one", "two"):
        provider = await registry.providers.create(alice, ollama(name))
        await registry.models.create(alice, {"provider_id": str(provider.id), "model_id": "m"})
    await registry.preferences.update(alice, {"temperature": "0.5"})
    system = await registry.providers.create(admin, ollama("system"))
    before = await _owned_counts(registry, alice.user_id)
    assert before == {"providers": 2, "api_keys": 1, "user_preferences": 1, "models": 2, "users": 1}

    await registry.users.purge(admin, alice.user_id)

    assert set((await _owned_counts(registry, alice.user_id)).values()) == {0}
    assert (await registry.providers.get(admin, system.id)).name == "system"
    async with registry.db.engine.connect() as conn:
        purged = await conn.scalar(select(func.count()).where(AuditEvent.action == "user.purge"))
    assert purged == 1


UserOp = Callable[[Registry, Actor, uuid.UUID], Awaitable[Any]]
ON_LAST_ADMIN: dict[str, UserOp] = {
    "delete": lambda r, a, uid: r.users.delete(a, uid),
    "demote": lambda r, a, uid: r.users.update(a, uid, UserUpdate(role="member")),
    "suspend": lambda r, a, uid: r.users.update(a, uid, UserUpdate(status="suspended")),
    "purge by the operator": lambda r, a, uid: r.users.purge(Actor.operator(), uid),
}


@pytest.mark.parametrize("operation", ON_LAST_ADMIN.values(), ids=ON_LAST_ADMIN.keys())
async def test_the_last_admin_cannot_be_removed(
    registry: Registry, admin: Actor, operation: UserOp
) -> None:
    await registry.users.create(admin, UserCreate(email="member@example.com"))
    assert admin.user_id is not None
    await fails(registry, "LAST_ADMIN", operation(registry, admin, admin.user_id))


async def test_an_admin_can_be_removed_once_another_exists(
    registry: Registry, admin: Actor
) -> None:
    assert admin.user_id is not None
    await registry.users.create(admin, UserCreate(email="second@example.com", role="admin"))
    assert (await registry.users.update(admin, admin.user_id, UserUpdate(role="member"))).role == (
        "member"
    )


async def test_api_keys_are_stored_only_as_a_hash(registry: Registry, admin: Actor) -> None:
    alice, token = await _signup(registry, admin, "alice@example.com")

    stored = repr((await db_state(registry))["api_keys"])

    assert token not in stored
    assert token[len("myk_") :] not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert [k.prefix for k in await registry.keys.list(alice)] == [token[:12]]


async def test_revoked_keys_are_rejected(registry: Registry, admin: Actor) -> None:
    alice, token = await _signup(registry, admin, "alice@example.com")
    [key] = await registry.keys.list(alice)

    await registry.keys.revoke(alice, key.id)

    await fails(registry, "UNAUTHENTICATED", registry.keys.authenticate(token))


async def test_expired_keys_are_rejected(registry: Registry, admin: Actor) -> None:
    user = await registry.users.create(admin, UserCreate(email="alice@example.com"))
    expires = registry.db.clock() + timedelta(hours=1)
    spec = ApiKeyCreate(name="short", user_id=user.id, expires_at=expires)
    token = (await registry.keys.create(admin, spec)).key
    assert (await registry.keys.authenticate(token)).user_id == user.id

    registry.db.clock = lambda: expires + timedelta(seconds=1)

    await fails(registry, "UNAUTHENTICATED", registry.keys.authenticate(token))


@pytest.mark.parametrize(
    "token", ["", "myk_", "myk_not-a-key", "sk-elsewhere", openai("x")["api_key"]]
)
async def test_unknown_tokens_are_rejected(registry: Registry, token: str) -> None:
    await fails(registry, "UNAUTHENTICATED", registry.keys.authenticate(token))
