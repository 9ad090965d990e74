"""Which provider and model serve a call (seeds 000, 002, 003, 004)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from modelyard.errors import CapabilityMissing, Conflict, NotFound, ValidationFailed
from modelyard.gateway.resolve import resolve
from modelyard.gateway.snapshot import Snapshot
from modelyard.gateway.snapshot_load import load
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry

TEXT = frozenset({"text"})


async def _member(registry: Registry, admin: Actor) -> Actor:
    user = await registry.users.create(admin, UserCreate(email="m@example.com"))
    issued = await registry.keys.create(admin, ApiKeyCreate(name="k", user_id=user.id))
    return await registry.keys.authenticate(issued.key)


async def _provider(
    registry: Registry, actor: Actor, name: str, models: list[str], **fields: Any
) -> dict[str, str]:
    created = await registry.providers.create(
        actor, {"name": name, "kind": "ollama", "base_url": "http://93.184.215.14:9"} | fields
    )
    ids = {}
    for model_id in models:
        model = await registry.models.create(
            actor,
            {
                "provider_id": created.id,
                "model_id": model_id,
                "capabilities": ["text", "streaming"],
            },
        )
        ids[model_id] = str(model.id)
    return {"id": str(created.id), **ids}


def _names(
    snap: Snapshot, user: Any, requested: str | None, needs: frozenset[str] = TEXT
) -> list[str]:
    resolution = resolve(snap, user, requested, "chat", needs)
    return [f"{c.provider.name}/{c.model.model_id}" for c in resolution.candidates]


async def test_own_providers_come_before_system_providers_for_the_same_model(
    registry: Registry, admin: Actor
) -> None:
    member = await _member(registry, admin)
    await _provider(registry, admin, "system-a", ["gpt-4o"])
    await _provider(registry, member, "mine", ["gpt-4o"])
    await _provider(registry, admin, "system-off", ["gpt-4o"], enabled=False)
    snap = await load(registry.db)
    assert _names(snap, member.user_id, "gpt-4o") == ["mine/gpt-4o", "system-a/gpt-4o"]
    assert _names(snap, admin.user_id, "gpt-4o") == ["system-a/gpt-4o"]


async def test_a_provider_can_be_pinned_and_unknown_models_are_not_found(
    registry: Registry, admin: Actor
) -> None:
    await _provider(registry, admin, "one", ["m1"])
    await _provider(registry, admin, "two", ["m1"])
    snap = await load(registry.db)
    assert _names(snap, admin.user_id, "two/m1") == ["two/m1"]
    for missing in ("nope", "three/m1", "one/nope"):
        with pytest.raises(NotFound) as info:
            resolve(snap, admin.user_id, missing, "chat", TEXT)
        assert info.value.code == "MODEL_NOT_FOUND"


async def test_defaults_follow_preference_then_provider_then_settings_then_active(
    registry: Registry, admin: Actor
) -> None:
    member = await _member(registry, admin)
    active = await _provider(registry, admin, "active", ["fallback-model"])
    await registry.providers.activate(admin, active["id"])
    snap = await load(registry.db)
    assert _names(snap, member.user_id, None) == ["active/fallback-model"]

    system = await _provider(registry, admin, "system", ["sys-default", "configured"])
    await registry.models.set_default(admin, system["sys-default"])
    assert _names(await load(registry.db), member.user_id, "default") == ["system/sys-default"]

    await registry.settings.set(admin, "defaults.chat_model", "system/configured")
    assert _names(await load(registry.db), member.user_id, None) == ["system/configured"]

    await _provider(registry, member, "own", ["own-model"], is_default=True)
    assert _names(await load(registry.db), member.user_id, None) == ["own/own-model"]

    await registry.preferences.update(member, {"default_model_id": system["sys-default"]})
    assert _names(await load(registry.db), member.user_id, None) == ["system/sys-default"]


async def test_deprecated_models_warn_or_are_refused_by_policy(
    registry: Registry, admin: Actor
) -> None:
    ids = await _provider(registry, admin, "p", ["old"])
    await registry.models.set_status(admin, ids["old"], "DEPRECATED")
    resolution = resolve(await load(registry.db), admin.user_id, "old", "chat", TEXT)
    assert resolution.warning is not None
    assert "deprecated" in resolution.warning
    await registry.settings.set(admin, "models.deprecated_policy", "reject")
    with pytest.raises(Conflict) as info:
        resolve(await load(registry.db), admin.user_id, "old", "chat", TEXT)
    assert info.value.code == "MODEL_DEPRECATED"


async def test_a_model_without_a_needed_capability_is_refused_naming_it(
    registry: Registry, admin: Actor
) -> None:
    await _provider(registry, admin, "p", ["text-only"])
    with pytest.raises(CapabilityMissing) as info:
        resolve(
            await load(registry.db),
            admin.user_id,
            "text-only",
            "chat",
            frozenset({"text", "vision"}),
        )
    assert info.value.status == 400
    assert "vision" in info.value.message


async def test_the_active_provider_serving_the_model_is_the_last_fallback(
    registry: Registry, admin: Actor
) -> None:
    member = await _member(registry, admin)
    active = await _provider(registry, admin, "zz-active", ["shared"])
    await registry.providers.activate(admin, active["id"])
    await _provider(registry, member, "mine", ["shared"])
    await _provider(registry, admin, "aa-system", ["shared"])
    names = _names(await load(registry.db), member.user_id, "shared")
    assert names[0] == "mine/shared"
    assert names[-1] == "zz-active/shared"
    assert sorted(names) == sorted(set(names))


async def test_providers_serving_the_same_model_share_the_load_by_weight(
    registry: Registry, admin: Actor
) -> None:
    await _provider(registry, admin, "light", ["shared"], weight=1)
    await _provider(registry, admin, "heavy", ["shared"], weight=3)
    snap = await load(registry.db)
    rng = random.Random(7)
    firsts = Counter(
        resolve(snap, admin.user_id, "shared", "chat", TEXT, rng).candidates[0].provider.name
        for _ in range(2000)
    )
    assert 0.70 < firsts["heavy"] / 2000 < 0.80
    assert firsts["light"] + firsts["heavy"] == 2000


async def test_a_models_fallback_list_follows_it_in_order(registry: Registry, admin: Actor) -> None:
    await _provider(registry, admin, "b", ["backup"])
    await _provider(registry, admin, "c", ["last-resort"])
    created = await registry.providers.create(
        admin, {"name": "a", "kind": "ollama", "base_url": "http://127.0.0.1:9"}
    )
    await registry.models.create(
        admin,
        {
            "provider_id": created.id,
            "model_id": "primary",
            "fallbacks": ["b/backup", "missing/model", "c/last-resort"],
        },
    )
    names = _names(await load(registry.db), admin.user_id, "primary")
    assert names == ["a/primary", "b/backup", "c/last-resort"]


async def test_a_fallback_that_is_not_provider_slash_model_is_refused(
    registry: Registry, admin: Actor
) -> None:
    created = await registry.providers.create(admin, {"name": "a", "kind": "ollama"})
    with pytest.raises(ValidationFailed) as info:
        await registry.models.create(
            admin, {"provider_id": created.id, "model_id": "m", "fallbacks": ["just-a-name"]}
        )
    assert "fallbacks" in info.value.message
