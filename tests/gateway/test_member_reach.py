"""A member's own provider cannot make the server call inside its network: the address each
connection really goes to is checked (DNS rebinding, a rule narrowed after saving), while a
system provider keeps reaching a local server. The upstream here listens on 127.0.0.1 and
is named ``localhost``, a name that resolves to a loopback address."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from modelyard.adapters.reach import AddressRefused, Reach, parse_networks
from modelyard.db.tables import Provider
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.system_settings import MEMBER_CIDRS
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running
from tests.gateway.upstream import fake_upstream, fixture, json_reply

CHAT = ("POST", "/v1/chat/completions")
ASK = {"model": "own-model", "messages": [{"role": "user", "content": "hi"}]}


async def _member(registry: Registry, admin: Actor) -> tuple[Actor, str]:
    user = await registry.users.create(admin, UserCreate(email="mallory@example.com"))
    issued = await registry.keys.create(admin, ApiKeyCreate(name="m", user_id=user.id))
    return await registry.keys.authenticate(issued.key), issued.key


async def _own_provider(registry: Registry, member: Actor, base_url: str) -> str:
    provider = await registry.providers.create(
        member,
        {"name": "own", "kind": "openai_compatible", "base_url": base_url, "api_key": "sk-x"},
    )
    await registry.models.create(
        member, {"provider_id": provider.id, "model_id": "own-model", "capabilities": ["text"]}
    )
    return str(provider.id)


async def _chat(url: str, key: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            f"{url}/v1/chat/completions", json=ASK, headers={"Authorization": f"Bearer {key}"}
        )


@pytest.fixture
def local(settings: Settings, tmp_path: Any) -> Settings:
    return settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})


async def test_a_provider_saved_while_allowed_is_refused_once_the_rule_is_narrowed(
    registry: Registry, admin: Actor, local: Settings
) -> None:
    reply = json_reply(fixture("openai/chat_completion.json"))
    async with fake_upstream({CHAT: reply}) as upstream:
        port = upstream.url.rsplit(":", 1)[1]
        member, key = await _member(registry, admin)
        await registry.settings.set(admin, MEMBER_CIDRS, ["127.0.0.0/8"])
        await _own_provider(registry, member, f"http://localhost:{port}/v1")
        async with running(local, registry) as (url, app):
            allowed = await _chat(url, key)
            assert allowed.status_code == 200, allowed.text
            assert len(upstream.received) == 1

            await registry.settings.unset(admin, MEMBER_CIDRS)
            await app.state.gateway.holder.refresh()
            refused = await _chat(url, key)
        assert refused.status_code == 502, refused.text
        assert refused.json()["error"]["code"] == "address_refused"
        assert "public addresses" in refused.json()["error"]["message"]
        assert len(upstream.received) == 1  # nothing reached the loopback server


async def test_a_name_resolving_to_loopback_is_refused_when_connecting(
    registry: Registry, admin: Actor, local: Settings
) -> None:
    """Saved with a public address, the name now resolves to 127.0.0.1 (DNS rebinding): the
    row is changed behind the save-time check, as a rebinding name would."""
    reply = json_reply(fixture("openai/chat_completion.json"))
    async with fake_upstream({CHAT: reply}) as upstream:
        port = upstream.url.rsplit(":", 1)[1]
        member, key = await _member(registry, admin)
        provider_id = await _own_provider(registry, member, "http://93.184.215.14/v1")
        async with registry.db.engine.begin() as conn:
            await conn.execute(
                update(Provider)
                .where(Provider.name == "own")
                .values(base_url=f"http://localhost:{port}/v1")
            )
        assert provider_id
        async with running(local, registry) as (url, _):
            refused = await _chat(url, key)
        assert refused.status_code == 502, refused.text
        assert refused.json()["error"]["code"] == "address_refused"
        assert "loopback" in refused.json()["error"]["message"]
        assert upstream.received == []


async def test_a_system_provider_may_reach_a_local_server(
    registry: Registry, admin: Actor, local: Settings
) -> None:
    reply = json_reply(fixture("openai/chat_completion.json"))
    async with fake_upstream({CHAT: reply}) as upstream:
        port = upstream.url.rsplit(":", 1)[1]
        provider = await registry.providers.create(
            admin,
            {
                "name": "local",
                "kind": "openai_compatible",
                "base_url": f"http://localhost:{port}/v1",
                "api_key": "sk-x",
            },
        )
        await registry.models.create(
            admin, {"provider_id": provider.id, "model_id": "own-model", "capabilities": ["text"]}
        )
        _, key = await _member(registry, admin)
        async with running(local, registry) as (url, _):
            served = await _chat(url, key)
        assert served.status_code == 200, served.text
        assert len(upstream.received) == 1


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "2002:7f00:1::",
        "::",
    ],
)
def test_the_connection_guard_refuses_every_non_public_address(address: str) -> None:
    reach = Reach("own")
    with pytest.raises(AddressRefused, match="public addresses"):
        reach.socket((0, 1, 6, "", (address, 443)))


def test_the_connection_guard_lets_public_and_allowed_addresses_through() -> None:
    reach = Reach("own", parse_networks(["10.0.0.0/8"]))
    import socket

    for family, address in ((socket.AF_INET, "93.184.215.14"), (socket.AF_INET, "10.9.9.9")):
        sock = reach.socket((family, socket.SOCK_STREAM, 6, "", (address, 443)))
        sock.close()
    with pytest.raises(AddressRefused):
        reach.socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443)))
