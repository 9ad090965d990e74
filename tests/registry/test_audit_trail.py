"""The audit trail: one event per changed entity per transaction, and a verifiable hash chain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update

from modelyard.db.tables import AuditEvent
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate, NewApiKey
from modelyard.registry.audit import event_content, event_hash
from modelyard.registry.users import UserCreate, UserUpdate
from modelyard.services import Registry
from tests.registry.helpers import (
    Event,
    audit_count,
    events_after,
    fails,
    last_event_id,
    member,
    ollama,
    openai,
    summary,
)

World = dict[str, Any]
Op = Callable[[Registry, Actor, World], Awaitable[Any]]
PRICE = {"input_per_mtok": "1", "output_per_mtok": "2"}


async def _world(registry: Registry, admin: Actor) -> World:
    """a: system default + active (openai); b: system (ollama) with model bm, the default model;
    m: a model of a; alice: a member with her own provider alices (model am) and key."""
    alice = await member(registry, admin)
    a = await registry.providers.create(admin, openai("a", is_default=True))
    await registry.providers.activate(admin, a.id)
    b = await registry.providers.create(admin, ollama("b"))
    m = await registry.models.create(admin, {"provider_id": str(a.id), "model_id": "m"})
    bm = await registry.models.create(admin, {"provider_id": str(b.id), "model_id": "bm"})
    await registry.models.set_default(admin, bm.id)
    alices = await registry.providers.create(alice, ollama("alices"))
    am = await registry.models.create(alice, {"provider_id": str(alices.id), "model_id": "am"})
    [key] = await registry.keys.list(alice)
    return {
        "admin": admin.user_id,
        "alice": alice.user_id,
        "alice_actor": alice,
        "a": a.id,
        "b": b.id,
        "m": m.id,
        "bm": bm.id,
        "alices": alices.id,
        "am": am.id,
        "key": key.id,
    }


Expected = list[Event]
CHANGES: dict[str, tuple[Op, Expected]] = {
    "create provider": (
        lambda r, a, w: r.providers.create(a, ollama("c")),
        [("provider.create", "provider", "new")],
    ),
    "create default provider": (
        lambda r, a, w: r.providers.create(a, ollama("c", is_default=True)),
        [("provider.unset_default", "provider", "a"), ("provider.create", "provider", "new")],
    ),
    "update provider": (
        lambda r, a, w: r.providers.update(a, w["b"], {"timeout_ms": 5000}),
        [("provider.update", "provider", "b")],
    ),
    "rotate key": (
        lambda r, a, w: r.providers.rotate_key(a, w["a"], "sk-test-rotated-000000"),
        [("provider.rotate_key", "provider", "a")],
    ),
    "disable provider": (
        lambda r, a, w: r.providers.set_enabled(a, w["b"], False),
        [("provider.disable", "provider", "b")],
    ),
    "set default provider": (
        lambda r, a, w: r.providers.set_default(a, w["b"]),
        [("provider.unset_default", "provider", "a"), ("provider.set_default", "provider", "b")],
    ),
    "activate provider": (
        lambda r, a, w: r.providers.activate(a, w["b"]),
        [("provider.deactivate", "provider", "a"), ("provider.activate", "provider", "b")],
    ),
    "delete provider": (
        lambda r, a, w: r.providers.delete(a, w["alices"]),
        [("provider.delete", "provider", "alices")],
    ),
    "create model": (
        lambda r, a, w: r.models.create(a, {"provider_id": str(w["b"]), "model_id": "n"}),
        [("model.create", "model", "new")],
    ),
    # the price row is an entity of its own; its event is filed under its model
    "create model with price": (
        lambda r, a, w: r.models.create(
            a, {"provider_id": str(w["b"]), "model_id": "n", "price": PRICE}
        ),
        [("model.create", "model", "new"), ("model.price_change", "model", "new")],
    ),
    "update model": (
        lambda r, a, w: r.models.update(a, w["m"], {"context_window": 8192}),
        [("model.update", "model", "m")],
    ),
    "set price": (
        lambda r, a, w: r.prices.set(a, w["m"], PRICE),
        [("model.price_change", "model", "m")],
    ),
    "deprecate default model": (
        lambda r, a, w: r.models.set_status(a, w["bm"], "DEPRECATED"),
        [("model.deprecate", "model", "bm")],
    ),
    "set default model": (
        lambda r, a, w: r.models.set_default(a, w["m"]),
        [("model.unset_default", "model", "bm"), ("model.set_default", "model", "m")],
    ),
    "delete model": (
        lambda r, a, w: r.models.delete(a, w["m"]),
        [("model.delete", "model", "m")],
    ),
    "create user": (
        lambda r, a, w: r.users.create(a, UserCreate(email="new@example.com")),
        [("user.create", "user", "new")],
    ),
    "update user": (
        lambda r, a, w: r.users.update(a, w["alice"], UserUpdate(display_name="Alice")),
        [("user.update", "user", "alice")],
    ),
    "soft delete user": (
        lambda r, a, w: r.users.delete(a, w["alice"]),
        [("user.delete", "user", "alice"), ("provider.disable", "provider", "alices")],
    ),
    "purge user": (
        lambda r, a, w: r.users.purge(a, w["alice"]),
        [("user.purge", "user", "alice")],
    ),
    "create api key": (
        lambda r, a, w: r.keys.create(a, ApiKeyCreate(name="second")),
        [("api_key.create", "api_key", "new")],
    ),
    "revoke api key": (
        lambda r, a, w: r.keys.revoke(a, w["key"]),
        [("api_key.revoke", "api_key", "key")],
    ),
    "set setting": (
        lambda r, a, w: r.settings.set(a, "models.deprecated_policy", "reject"),
        [("setting.set", "setting", "models.deprecated_policy")],
    ),
    "update preferences": (
        lambda r, a, w: r.preferences.update(w["alice_actor"], {"streaming": False}),
        [("preferences.update", "user", "alice")],
    ),
}


def _new_id(result: Any) -> str | None:
    """The id of what an operation created (for "new" in the expected events)."""
    created = result.api_key if isinstance(result, NewApiKey) else result
    found = getattr(created, "id", None)
    return None if found is None else str(found)


@pytest.mark.parametrize(("operation", "expected"), CHANGES.values(), ids=CHANGES.keys())
async def test_each_change_writes_one_event_per_changed_entity_in_one_transaction(
    registry: Registry, admin: Actor, operation: Op, expected: Expected
) -> None:
    world = await _world(registry, admin)
    mark, generation = await last_event_id(registry), await registry.generation()

    result = await operation(registry, admin, world)

    refs = world | {"new": _new_id(result)}
    events = await events_after(registry, mark)
    assert summary(events) == [(a, t, str(refs.get(ref, ref))) for a, t, ref in expected]
    assert len({e.occurred_at for e in events}) == 1
    assert await registry.generation() == generation + 1
    assert (await registry.audit.verify(admin)).ok


FAILURES: dict[str, tuple[Op, str]] = {
    "duplicate name": (lambda r, a, w: r.providers.create(a, ollama("b")), "NAME_TAKEN"),
    "disabled default": (
        lambda r, a, w: r.providers.create(a, ollama("c", enabled=False, is_default=True)),
        "PROVIDER_DISABLED",
    ),
    "delete active": (lambda r, a, w: r.providers.delete(a, w["a"]), "PROVIDER_IS_ACTIVE"),
    "last admin": (lambda r, a, w: r.users.delete(a, w["admin"]), "LAST_ADMIN"),
    "user model as system default": (
        lambda r, a, w: r.models.set_default(a, w["am"]),
        "PROVIDER_NOT_SYSTEM",
    ),
    "bad setting": (lambda r, a, w: r.settings.set(a, "nope", 1), "VALIDATION_FAILED"),
}


@pytest.mark.parametrize(("operation", "code"), FAILURES.values(), ids=FAILURES.keys())
async def test_a_failing_operation_writes_no_event(
    registry: Registry, admin: Actor, operation: Op, code: str
) -> None:
    world = await _world(registry, admin)
    await fails(registry, code, operation(registry, admin, world))


async def test_the_hash_chain_verifies(registry: Registry, admin: Actor) -> None:
    await _world(registry, admin)
    report = await registry.audit.verify(admin)
    assert (report.ok, report.checked) == (True, await audit_count(registry))


async def _middle_event(registry: Registry) -> tuple[int, int]:
    async with registry.db.engine.connect() as conn:
        ids = list(await conn.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
    middle = len(ids) // 2
    return ids[middle], ids[middle + 1]


async def _tamper(registry: Registry, statement: Any) -> None:
    """Change audit_events behind the registry's back (past the trigger on PostgreSQL)."""
    async with registry.db.engine.begin() as conn:
        if registry.db.is_postgres:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(statement)


async def _rewrite_with_hash(registry: Registry, event_id: int) -> Any:
    """A forger who also recomputes the event's own hash: only the next link can tell."""
    async with registry.db.engine.connect() as conn:
        row = (
            await conn.execute(select(AuditEvent.__table__).where(AuditEvent.id == event_id))
        ).one()
    event = AuditEvent(**row._mapping)
    event.after = {"forged": True}
    forged_hash = event_hash(event.prev_hash, event_content(event))
    return _event(event_id).values(after=event.after, hash=forged_hash)


def _event(event_id: int) -> Any:
    return update(AuditEvent).where(AuditEvent.id == event_id)


async def _change_after(registry: Registry, event_id: int) -> Any:
    return _event(event_id).values(after={"enabled": False})


async def _relabel_actor(registry: Registry, event_id: int) -> Any:
    return _event(event_id).values(actor_label="someone else")


async def _delete(registry: Registry, event_id: int) -> Any:
    return delete(AuditEvent).where(AuditEvent.id == event_id)


Forgery = Callable[[Registry, int], Awaitable[Any]]
MISMATCH, UNLINKED = "content does not match its hash", "does not link to the event before it"
TAMPERING: dict[str, tuple[Forgery, bool, str]] = {  # reported at the event itself, or the next
    "after changed": (_change_after, True, MISMATCH),
    "actor relabelled": (_relabel_actor, True, MISMATCH),
    "event deleted": (_delete, False, UNLINKED),
    "event rewritten with its hash": (_rewrite_with_hash, False, UNLINKED),
}


@pytest.mark.parametrize(
    ("forgery", "at_event", "reason"), TAMPERING.values(), ids=TAMPERING.keys()
)
async def test_tampering_is_reported_at_the_first_broken_link(
    registry: Registry, admin: Actor, forgery: Forgery, at_event: bool, reason: str
) -> None:
    await _world(registry, admin)
    target, following = await _middle_event(registry)

    await _tamper(registry, await forgery(registry, target))

    report = await registry.audit.verify(admin)
    assert (report.broken_at, report.reason) == (target if at_event else following, reason)
    assert not report.ok
