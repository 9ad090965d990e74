"""Provider config validation per kind, and who may see and change which provider."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from modelyard.errors import NotFound
from modelyard.kinds.declarative_examples import EXAMPLE_OPENAI_CHAT
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.registry.helpers import ALL, TEST_KEY, fails, member, ollama, openai


def _declarative_without_messages() -> dict[str, Any]:
    config = copy.deepcopy(EXAMPLE_OPENAI_CHAT)
    del config["request_builder"]["payload_structure"]["messages"]
    return config


INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "openai without api_key": ({"name": "p", "kind": "openai"}, "api_key"),
    "empty api_key": (openai("p", key=""), "api_key"),
    "blank api_key": (openai("p", key="   "), "api_key"),
    "api_key with whitespace": (openai("p", key="sk-test 0123456789"), "api_key"),
    "ftp base_url": (ollama("p", base_url="ftp://models.example.com"), "base_url"),
    "base_url without scheme": (ollama("p", base_url="models.example.com"), "base_url"),
    "base_url with query": (ollama("p", base_url="https://x.example.com/?a=b"), "base_url"),
    "unknown openai config field": (openai("p", config={"projcet": "x"}), "config.projcet"),
    "openai field on ollama": (ollama("p", config={"project": "x"}), "config.project"),
    "declarative body without messages": (
        {
            "name": "p",
            "kind": "declarative",
            "base_url": "https://api.example.com",
            "api_key": TEST_KEY,
            "config": _declarative_without_messages(),
        },
        "config.request_builder.payload_structure",
    ),
    "credential in custom headers": (
        ollama("p", custom_headers={"Authorization": "Bearer x"}),
        "custom_headers.Authorization",
    ),
}


@pytest.mark.parametrize(("spec", "path"), INVALID.values(), ids=INVALID.keys())
async def test_invalid_provider_config_is_rejected_naming_its_json_path(
    registry: Registry, admin: Actor, spec: dict[str, Any], path: str
) -> None:
    error = await fails(registry, "VALIDATION_FAILED", registry.providers.create(admin, spec))
    assert path in [e["path"] for e in error.details["errors"]], error.details
    assert path in error.message


VALID: dict[str, dict[str, Any]] = {
    "ollama without a key": ollama("p"),
    "openai with a key": openai("p", config={"project": "proj_1"}),
    "declarative example": {
        "name": "p",
        "kind": "declarative",
        "base_url": "https://api.example.com",
        "api_key": TEST_KEY,
        "config": EXAMPLE_OPENAI_CHAT,
    },
}


@pytest.mark.parametrize("spec", VALID.values(), ids=VALID.keys())
async def test_valid_provider_config_is_accepted(
    registry: Registry, admin: Actor, spec: dict[str, Any]
) -> None:
    created = await registry.providers.create(admin, spec)
    assert created.has_api_key == ("api_key" in spec)
    assert (await registry.providers.get(admin, created.id)) == created


async def test_empty_api_key_is_rejected_on_rotation(registry: Registry, admin: Actor) -> None:
    created = await registry.providers.create(admin, openai("p"))
    await fails(registry, "VALIDATION_FAILED", registry.providers.rotate_key(admin, created.id, ""))
    await fails(
        registry, "VALIDATION_FAILED", registry.providers.rotate_key(admin, created.id, None)
    )


async def test_members_see_system_providers_and_their_own_only(
    registry: Registry, admin: Actor
) -> None:
    alice, bob = await member(registry, admin, "alice"), await member(registry, admin, "bob")
    await registry.providers.create(admin, ollama("system"))
    await registry.providers.create(alice, ollama("alices"))
    await registry.providers.create(bob, ollama("bobs"))

    seen = {p.name for p in (await registry.providers.list(alice, ALL)).items}

    assert seen == {"system", "alices"}
    assert {p.name for p in (await registry.providers.list(admin, ALL)).items} == {
        "system",
        "alices",
        "bobs",
    }


Op = Callable[[Registry, Actor, Any], Awaitable[Any]]
ON_PROVIDER: dict[str, Op] = {
    "get": lambda r, a, pid: r.providers.get(a, pid),
    "update": lambda r, a, pid: r.providers.update(a, pid, {"description": "mine now"}),
    "delete": lambda r, a, pid: r.providers.delete(a, pid),
    "rotate_key": lambda r, a, pid: r.providers.rotate_key(a, pid, "sk-test-stolen-00000"),
    "disable": lambda r, a, pid: r.providers.set_enabled(a, pid, False),
    "set_default": lambda r, a, pid: r.providers.set_default(a, pid),
}
CHANGES = {name: op for name, op in ON_PROVIDER.items() if name != "get"}
CHANGES["activate"] = lambda r, a, pid: r.providers.activate(a, pid)


@pytest.mark.parametrize("operation", ON_PROVIDER.values(), ids=ON_PROVIDER.keys())
async def test_another_members_provider_is_not_found_not_forbidden(
    registry: Registry, admin: Actor, operation: Op
) -> None:
    alice, bob = await member(registry, admin, "alice"), await member(registry, admin, "bob")
    bobs = await registry.providers.create(bob, openai("bobs"))

    error = await fails(registry, "PROVIDER_NOT_FOUND", operation(registry, alice, bobs.id))

    assert isinstance(error, NotFound)
    assert error.status == 404


@pytest.mark.parametrize("operation", CHANGES.values(), ids=CHANGES.keys())
async def test_members_are_forbidden_to_change_system_providers(
    registry: Registry, admin: Actor, operation: Op
) -> None:
    alice = await member(registry, admin)
    system = await registry.providers.create(admin, openai("system"))
    await fails(registry, "FORBIDDEN", operation(registry, alice, system.id))


async def test_members_are_forbidden_to_create_system_providers(
    registry: Registry, admin: Actor
) -> None:
    alice = await member(registry, admin)
    call = registry.providers.create(alice, ollama("mine", owner="system"))
    await fails(registry, "FORBIDDEN", call)
