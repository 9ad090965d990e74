"""Where a provider may point, checked when it is saved: a member's own provider reaches only
public addresses (unless an admin allowed a private network), nobody's base URL carries a
credential, and path templates stay paths under the base URL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from modelyard.adapters.declarative_config import DeclarativeConfig
from modelyard.db.tables import Provider
from modelyard.errors import ModelyardError
from modelyard.kinds.declarative_examples import EXAMPLE_OPENAI_CHAT
from modelyard.registry import provider_reach
from modelyard.registry.actors import Actor
from modelyard.registry.system_settings import MEMBER_CIDRS
from modelyard.services import Registry
from tests.registry.helpers import ALL, PUBLIC_URL, fails, member

INSIDE = [
    "http://127.0.0.1:8080",
    "http://127.1.2.3",
    "http://10.0.0.5/v1",
    "http://172.16.3.4",
    "http://192.168.0.10:11434",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1",
    "http://0.0.0.0:80",
    "http://224.0.0.1",
    "http://[::1]:8080",
    "http://[fe80::1]",
    "http://[fd12:3456::1]",
    "http://[::ffff:127.0.0.1]",
    "http://[::ffff:a9fe:a9fe]",
    "http://localhost:11434",
    "http://api.localhost",
    "http://metadata.google.internal/computeMetadata/v1",
    "http://metadata",
]


def _compatible(name: str, base_url: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "kind": "openai_compatible", "base_url": base_url, **fields}


@pytest.mark.parametrize("base_url", INSIDE)
async def test_a_member_cannot_point_their_provider_inside_the_network(
    registry: Registry, admin: Actor, base_url: str
) -> None:
    alice = await member(registry, admin)
    error = await fails(
        registry, "VALIDATION_FAILED", registry.providers.create(alice, _compatible("p", base_url))
    )
    assert "base_url" in error.message
    assert "public addresses" in error.message
    created = await registry.providers.create(alice, _compatible("p", PUBLIC_URL))
    error = await fails(
        registry,
        "VALIDATION_FAILED",
        registry.providers.update(alice, created.id, {"base_url": base_url}),
    )
    assert "base_url" in error.message


async def test_a_host_name_is_resolved_when_saved(
    registry: Registry, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"rebind.example.com": ["93.184.215.14", "10.0.0.7"], "ok.example.com": ["1.1.1.1"]}

    async def resolver(host: str) -> list[str]:
        return answers.get(host, [])

    monkeypatch.setattr(provider_reach, "resolve", resolver)
    alice = await member(registry, admin)
    error = await fails(
        registry,
        "VALIDATION_FAILED",
        registry.providers.create(alice, _compatible("p", "https://rebind.example.com/v1")),
    )
    assert "10.0.0.7 is a private address" in error.message
    await registry.providers.create(alice, _compatible("p", "https://ok.example.com/v1"))
    # a name that does not resolve now is saved: every connection is checked anyway
    await registry.providers.create(alice, _compatible("q", "https://nowhere.example.com/v1"))


async def test_admins_may_point_system_and_their_own_providers_at_local_servers(
    registry: Registry, admin: Actor
) -> None:
    system = await registry.providers.create(admin, _compatible("local", "http://127.0.0.1:8000"))
    assert system.base_url == "http://127.0.0.1:8000"
    own = await registry.providers.create(
        admin,
        {"name": "mine", "kind": "ollama", "owner": "me"},  # localhost:11434
    )
    assert own.base_url == "http://localhost:11434"


async def test_an_admin_cannot_point_a_members_provider_inside_either(
    registry: Registry, admin: Actor
) -> None:
    alice = await member(registry, admin)
    created = await registry.providers.create(alice, _compatible("p", PUBLIC_URL))
    await fails(
        registry,
        "VALIDATION_FAILED",
        registry.providers.update(admin, created.id, {"base_url": "http://10.1.1.1"}),
    )


async def test_an_admin_may_allow_private_networks_to_members(
    registry: Registry, admin: Actor
) -> None:
    alice = await member(registry, admin)
    view = await registry.settings.set(admin, MEMBER_CIDRS, ["10.0.0.0/8", "fd00::/8 "])
    assert view.value == ["10.0.0.0/8", "fd00::/8"]
    allowed = await registry.providers.create(alice, _compatible("lan", "http://10.2.3.4:8000"))
    assert allowed.base_url == "http://10.2.3.4:8000"
    await registry.providers.create(alice, _compatible("lan6", "http://[fd00::5]"))
    await fails(
        registry,
        "VALIDATION_FAILED",
        registry.providers.create(alice, _compatible("lo", "http://127.0.0.1")),
    )
    await fails(
        registry,
        "VALIDATION_FAILED",
        registry.settings.set(admin, MEMBER_CIDRS, ["not-a-network"]),
    )
    with pytest.raises(ModelyardError) as info:
        await registry.settings.set(alice, MEMBER_CIDRS, ["0.0.0.0/0"])
    assert info.value.status == 403


@pytest.mark.parametrize(
    "base_url",
    [
        "https://user:sk-planted-0123456789@api.example.com/v1",
        "https://sk-planted-0123456789@api.example.com/v1",
        "https://api.example.com/v1?api_key=sk-planted-0123456789",
        "https://api.example.com/v1?key=sk-planted-0123456789",
    ],
)
async def test_credentials_in_a_base_url_are_refused_for_everyone(
    registry: Registry, admin: Actor, base_url: str
) -> None:
    alice = await member(registry, admin)
    for actor in (admin, alice):
        error = await fails(
            registry,
            "VALIDATION_FAILED",
            registry.providers.create(actor, _compatible("p", base_url)),
        )
        assert "base_url" in error.message
        assert "api_key" in error.message
        assert "sk-planted" not in str(error.to_dict())
    created = await registry.providers.create(admin, _compatible("q", "https://api.example.com"))
    await fails(
        registry,
        "VALIDATION_FAILED",
        registry.providers.update(admin, created.id, {"base_url": base_url}),
    )


async def test_a_stored_base_url_never_shows_its_credentials(
    registry: Registry, admin: Actor
) -> None:
    """A row saved before credentials were refused: views, lists and the audit show ``***``."""
    alice = await member(registry, admin)
    created = await registry.providers.create(admin, _compatible("old", "https://api.example.com"))
    async with registry.db.engine.begin() as conn:
        await conn.execute(
            update(Provider)
            .where(Provider.id == created.id)
            .values(base_url="https://bob:sk-legacy-0123456789@api.example.com/v1")
        )
    for actor in (admin, alice):
        seen = await registry.providers.get(actor, created.id)
        assert seen.base_url == "https://***@api.example.com/v1"
    await registry.providers.update(admin, created.id, {"description": "touched"})
    events = await registry.audit.list(admin, ALL)
    assert events.items
    assert "sk-legacy" not in repr(events)


@pytest.mark.parametrize(
    "path",
    [
        "//evil.example.com/v1/chat",
        "/../../admin",
        "/v1/%2e%2e/%2E%2E/admin",
        "/v1/./chat",
        "@evil.example.com/chat",
        "/chat@evil.example.com",
        "http://evil.example.com/chat",
        "/chat\\..\\admin",
        "chat/completions",
    ],
)
async def test_path_templates_stay_paths_under_the_base_url(
    registry: Registry, admin: Actor, path: str
) -> None:
    for field in ("chat_path", "embeddings_path"):
        error = await fails(
            registry,
            "VALIDATION_FAILED",
            registry.providers.create(
                admin, _compatible("p", "https://api.example.com", config={field: path})
            ),
        )
        assert f"config.{field}" in str(error.to_dict())
    declarative = dict(EXAMPLE_OPENAI_CHAT, endpoint_path_template=path)
    error = await fails(
        registry,
        "VALIDATION_FAILED",
        registry.providers.create(
            admin,
            {
                "name": "d",
                "kind": "declarative",
                "base_url": "https://api.example.com",
                "api_key": "sk-x",
                "config": declarative,
            },
        ),
    )
    assert "endpoint_path_template" in str(error.to_dict())
    DeclarativeConfig.model_validate(EXAMPLE_OPENAI_CHAT)  # the example itself stays valid
