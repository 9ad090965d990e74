"""System settings (known keys, custom.*, model references, defaults) and user preferences."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from modelyard.registry.actors import Actor
from modelyard.registry.system_settings import KNOWN, RetryPolicy
from modelyard.services import Registry
from tests.registry.helpers import fails, member, ollama


@pytest.mark.parametrize("key", ["gateway.retries", "custom.", "custom", "defaults"])
async def test_unknown_setting_keys_are_rejected(
    registry: Registry, admin: Actor, key: str
) -> None:
    error = await fails(registry, "VALIDATION_FAILED", registry.settings.set(admin, key, 1))
    assert "custom.<name>" in error.message


@pytest.mark.parametrize("value", [1, "text", {"nested": [1, None, True]}, None])
async def test_custom_settings_take_any_json_value(
    registry: Registry, admin: Actor, value: Any
) -> None:
    await registry.settings.set(admin, "custom.team.flag", value)
    found = await registry.settings.get(admin, "custom.team.flag")
    assert (found.value, found.is_set) == (value, True)


INVALID_VALUES = {
    "deprecated_policy ignore": ("models.deprecated_policy", "ignore"),
    "deprecated_policy upper case": ("models.deprecated_policy", "WARN"),
    "retry zero attempts": ("gateway.retry", {"max_attempts": 0}),
    "retry max below base": ("gateway.retry", {"base_delay_ms": 1000, "max_delay_ms": 10}),
    "retry unknown field": ("gateway.retry", {"retries": 3}),
    "retry negative schedule": ("gateway.retry", {"schedule_ms": [1000, -1]}),
    "retry not an object": ("gateway.retry", "fast"),
    "fallback not a bool": ("gateway.fallback_to_active_provider", "sometimes"),
}


@pytest.mark.parametrize(("key", "value"), INVALID_VALUES.values(), ids=INVALID_VALUES.keys())
async def test_known_settings_are_validated(
    registry: Registry, admin: Actor, key: str, value: Any
) -> None:
    await fails(registry, "VALIDATION_FAILED", registry.settings.set(admin, key, value))


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("models.deprecated_policy", "reject", "reject"),
        ("models.deprecated_policy", "warn", "warn"),
        (
            "gateway.retry",
            {"max_attempts": 2, "schedule_ms": [100, 200]},
            RetryPolicy(max_attempts=2, schedule_ms=[100, 200]).model_dump(),
        ),
    ],
)
async def test_valid_known_settings_are_stored_normalised(
    registry: Registry, admin: Actor, key: str, value: Any, stored: Any
) -> None:
    await registry.settings.set(admin, key, value)
    assert (await registry.settings.get(admin, key)).value == stored


@pytest.mark.parametrize("key", sorted(KNOWN))
async def test_an_unset_setting_returns_its_default(
    registry: Registry, admin: Actor, key: str
) -> None:
    found = await registry.settings.get(admin, key)
    assert (found.value, found.is_set) == (KNOWN[key].default, False)


async def test_unsetting_a_setting_restores_its_default(registry: Registry, admin: Actor) -> None:
    await registry.settings.set(admin, "models.deprecated_policy", "reject")

    unset = await registry.settings.unset(admin, "models.deprecated_policy")

    assert (unset.value, unset.is_set) == ("warn", False)
    assert (await registry.settings.get(admin, "models.deprecated_policy")).value == "warn"


async def _model_ref_world(registry: Registry, admin: Actor) -> None:
    """sys/active, sys/old (deprecated), off/model (disabled provider), alices/mine (a user's)."""
    system = await registry.providers.create(admin, ollama("sys"))
    off = await registry.providers.create(admin, ollama("off"))
    await registry.models.create(admin, {"provider_id": str(system.id), "model_id": "active"})
    old = await registry.models.create(admin, {"provider_id": str(system.id), "model_id": "old"})
    await registry.models.set_status(admin, old.id, "DEPRECATED")
    await registry.models.create(admin, {"provider_id": str(off.id), "model_id": "model"})
    await registry.providers.set_enabled(admin, off.id, False)
    alice = await member(registry, admin)
    alices = await registry.providers.create(alice, ollama("alices"))
    await registry.models.create(alice, {"provider_id": str(alices.id), "model_id": "mine"})


MODEL_REFS = {
    "no such model": ("sys/missing", "VALIDATION_FAILED"),
    "not provider/model": ("active", "VALIDATION_FAILED"),
    "empty model id": ("sys/", "VALIDATION_FAILED"),
    "deprecated model": ("sys/old", "MODEL_DEPRECATED"),
    "disabled provider": ("off/model", "PROVIDER_DISABLED"),
    "a user's provider": ("alices/mine", "VALIDATION_FAILED"),
}


@pytest.mark.parametrize(("ref", "code"), MODEL_REFS.values(), ids=MODEL_REFS.keys())
@pytest.mark.parametrize("key", sorted(k for k, d in KNOWN.items() if d.model_ref))
async def test_model_ref_settings_need_an_active_model_of_an_enabled_system_provider(
    registry: Registry, admin: Actor, key: str, ref: str, code: str
) -> None:
    await _model_ref_world(registry, admin)
    await fails(registry, code, registry.settings.set(admin, key, ref))


async def test_a_model_ref_setting_accepts_an_active_system_model(
    registry: Registry, admin: Actor
) -> None:
    await _model_ref_world(registry, admin)
    await registry.settings.set(admin, "defaults.chat_model", "sys/active")
    assert (await registry.settings.get(admin, "defaults.chat_model")).value == "sys/active"


async def test_members_cannot_change_system_settings(registry: Registry, admin: Actor) -> None:
    alice = await member(registry, admin)
    call = registry.settings.set(alice, "models.deprecated_policy", "reject")
    await fails(registry, "FORBIDDEN", call)


@pytest.mark.parametrize("temperature", ["0", "2", "1.25", "0.7", 1])
async def test_temperature_between_0_and_2_is_kept_exactly(
    registry: Registry, admin: Actor, temperature: Any
) -> None:
    alice = await member(registry, admin)
    await registry.preferences.update(alice, {"temperature": temperature})
    assert (await registry.preferences.get(alice)).temperature == Decimal(str(temperature))


@pytest.mark.parametrize("temperature", ["-0.01", "2.01", "3", "1.234", "hot"])
async def test_temperature_outside_0_to_2_is_rejected(
    registry: Registry, admin: Actor, temperature: Any
) -> None:
    alice = await member(registry, admin)
    call = registry.preferences.update(alice, {"temperature": temperature})
    error = await fails(registry, "VALIDATION_FAILED", call)
    assert [e["path"] for e in error.details["errors"]] == ["temperature"]
