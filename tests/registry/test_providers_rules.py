"""Provider rules: one default per owner, one active system provider, names per owner."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from modelyard.kinds.base import kinds
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.registry.helpers import (
    defaults_of,
    events_after,
    fails,
    last_event_id,
    member,
    ollama,
    openai,
    summary,
)


async def test_set_default_unsets_the_previous_default_in_the_same_transaction(
    registry: Registry, admin: Actor
) -> None:
    a = await registry.providers.create(admin, ollama("a", is_default=True))
    b = await registry.providers.create(admin, ollama("b"))
    mark, generation = await last_event_id(registry), await registry.generation()

    await registry.providers.set_default(admin, b.id)

    assert await defaults_of(registry, admin, None) == [b.id]
    events = await events_after(registry, mark)
    assert summary(events) == [
        ("provider.unset_default", "provider", str(a.id)),
        ("provider.set_default", "provider", str(b.id)),
    ]
    assert len({e.occurred_at for e in events}) == 1
    assert await registry.generation() == generation + 1


@pytest.mark.parametrize("count", [2, 10])
async def test_concurrent_set_default_for_one_owner_leaves_exactly_one_default(
    registry: Registry, admin: Actor, count: int
) -> None:
    created = [await registry.providers.create(admin, ollama(f"p{i}")) for i in range(count)]
    mark = await last_event_id(registry)

    await asyncio.gather(*(registry.providers.set_default(admin, p.id) for p in created))

    assert len(await defaults_of(registry, admin, None)) == 1
    actions = [action for action, _, _ in summary(await events_after(registry, mark))]
    assert actions.count("provider.set_default") == count
    assert actions.count("provider.unset_default") == count - 1


async def test_defaults_are_per_owner(registry: Registry, admin: Actor) -> None:
    alice, bob = await member(registry, admin, "alice"), await member(registry, admin, "bob")
    system = await registry.providers.create(admin, ollama("shared", is_default=True))
    mine = await registry.providers.create(alice, ollama("mine", is_default=True))
    theirs = await registry.providers.create(bob, ollama("theirs", is_default=True))

    other_system = await registry.providers.create(admin, ollama("other"))
    await registry.providers.set_default(admin, other_system.id)

    assert await defaults_of(registry, admin, None) == [other_system.id]
    assert await defaults_of(registry, admin, alice.user_id) == [mine.id]
    assert await defaults_of(registry, admin, bob.user_id) == [theirs.id]
    assert not (await registry.providers.get(admin, system.id)).is_default


@pytest.mark.parametrize(
    ("owner", "fields", "code"),
    [
        ("admin", {"enabled": False}, "PROVIDER_DISABLED"),
        ("member", {}, "PROVIDER_NOT_SYSTEM"),
    ],
    ids=["disabled", "user-owned"],
)
async def test_activating_a_provider_that_cannot_be_the_fallback_fails(
    registry: Registry, admin: Actor, owner: str, fields: dict[str, Any], code: str
) -> None:
    alice = await member(registry, admin)
    creator = admin if owner == "admin" else alice
    provider = await registry.providers.create(creator, ollama("p", **fields))
    await fails(registry, code, registry.providers.activate(admin, provider.id))


async def test_activating_b_deactivates_a(registry: Registry, admin: Actor) -> None:
    a = await registry.providers.create(admin, ollama("a"))
    b = await registry.providers.create(admin, ollama("b"))
    await registry.providers.activate(admin, a.id)
    mark = await last_event_id(registry)

    await registry.providers.activate(admin, b.id)

    assert not (await registry.providers.get(admin, a.id)).is_active
    assert (await registry.providers.get(admin, b.id)).is_active
    assert summary(await events_after(registry, mark)) == [
        ("provider.deactivate", "provider", str(a.id)),
        ("provider.activate", "provider", str(b.id)),
    ]


Op = Callable[[Registry, Actor, Any], Awaitable[Any]]
ON_ACTIVE: dict[str, Op] = {
    "delete": lambda r, a, pid: r.providers.delete(a, pid),
    "disable": lambda r, a, pid: r.providers.set_enabled(a, pid, False),
}


@pytest.mark.parametrize("operation", ON_ACTIVE.values(), ids=ON_ACTIVE.keys())
async def test_the_active_provider_is_kept_until_another_is_activated(
    registry: Registry, admin: Actor, operation: Op
) -> None:
    a = await registry.providers.create(admin, ollama("a"))
    b = await registry.providers.create(admin, ollama("b"))
    await registry.providers.activate(admin, a.id)

    await fails(registry, "PROVIDER_IS_ACTIVE", operation(registry, admin, a.id))

    await registry.providers.activate(admin, b.id)
    await operation(registry, admin, a.id)


@pytest.mark.parametrize("owner", ["system", "member"])
async def test_deleting_the_default_leaves_its_owner_without_a_default(
    registry: Registry, admin: Actor, owner: str
) -> None:
    actor = admin if owner == "system" else await member(registry, admin)
    owner_id = None if owner == "system" else actor.user_id
    kept = await registry.providers.create(actor, ollama("kept"))
    default = await registry.providers.create(actor, ollama("default", is_default=True))

    await registry.providers.delete(actor, default.id)

    assert await defaults_of(registry, admin, owner_id) == []
    assert not (await registry.providers.get(actor, kept.id)).is_default


NAME_CASES = {
    "system twice": ("admin", "admin", "NAME_TAKEN"),
    "one member twice": ("alice", "alice", "NAME_TAKEN"),
    "two members": ("alice", "bob", None),
    "system and a member": ("admin", "alice", None),
    "a member and system": ("alice", "admin", None),
}


@pytest.mark.parametrize(("first", "second", "code"), NAME_CASES.values(), ids=NAME_CASES.keys())
async def test_provider_names_are_unique_per_owner(
    registry: Registry, admin: Actor, first: str, second: str, code: str | None
) -> None:
    actors = {
        "admin": admin,
        "alice": await member(registry, admin, "alice"),
        "bob": await member(registry, admin, "bob"),
    }
    await registry.providers.create(actors[first], ollama("same"))
    if code is None:
        assert (await registry.providers.create(actors[second], ollama("same"))).name == "same"
    else:
        await fails(registry, code, registry.providers.create(actors[second], ollama("same")))


async def test_renaming_onto_a_taken_name_fails(registry: Registry, admin: Actor) -> None:
    await registry.providers.create(admin, ollama("taken"))
    other = await registry.providers.create(admin, ollama("other"))
    error = await fails(
        registry, "NAME_TAKEN", registry.providers.update(admin, other.id, {"name": "taken"})
    )
    assert error.details == {"name": "taken"}


async def test_an_invalid_kind_is_rejected_with_the_valid_kinds(
    registry: Registry, admin: Actor
) -> None:
    call = registry.providers.create(admin, {"name": "x", "kind": "openia"})
    error = await fails(registry, "VALIDATION_FAILED", call)
    assert error.details["errors"][0]["path"] == "kind"
    for kind in kinds():
        assert kind in error.message


async def test_config_version_increments_on_each_change(registry: Registry, admin: Actor) -> None:
    created = await registry.providers.create(admin, openai("p"))
    steps: list[Callable[[], Awaitable[Any]]] = [
        lambda: registry.providers.update(admin, created.id, {"description": "d"}),
        lambda: registry.providers.rotate_key(admin, created.id, "sk-test-rotated-000001"),
        lambda: registry.providers.set_enabled(admin, created.id, False),
        lambda: registry.providers.set_enabled(admin, created.id, True),
        lambda: registry.providers.set_default(admin, created.id),
        lambda: registry.providers.activate(admin, created.id),
    ]
    assert created.config_version == 1
    for expected, step in enumerate(steps, start=2):
        mark = await last_event_id(registry)
        assert (await step()).config_version == expected
        assert [e.config_version for e in await events_after(registry, mark)] == [expected]
    assert (await registry.providers.get(admin, created.id)).config_version == len(steps) + 1
