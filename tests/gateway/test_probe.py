"""A provider's connection test: a real minimal call through the kind's adapter with the
stored key (models listed, or a one-token chat), its failure as the upstream said it (the
key never in it), a member's provider held to the reach rules, and who may test what."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiohttp import web
from sqlalchemy import update

from modelyard.db.tables import Provider
from modelyard.errors import Forbidden, NotFound
from modelyard.gateway.probe import probe
from modelyard.kinds.declarative_examples import EXAMPLE_OPENAI_CHAT
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from tests.gateway.upstream import fake_upstream, fixture, json_reply

KEY = "sk-probe-Secret-0123456789abcdef"
MODELS = ("GET", "/v1/models")
CHAT = ("POST", "/v1/chat/completions")
LISTED = {"object": "list", "data": [{"id": f"m-{i}", "object": "model"} for i in range(7)]}


async def _member(registry: Registry, admin: Actor, email: str = "mo@example.com") -> Actor:
    user = await registry.users.create(admin, UserCreate(email=email))
    issued = await registry.keys.create(admin, ApiKeyCreate(name="m", user_id=user.id))
    return await registry.keys.authenticate(issued.key)


async def _provider(registry: Registry, actor: Actor, url: str, **more: object) -> str:
    body = {"name": "up", "kind": "openai_compatible", "base_url": url, "api_key": KEY} | more
    return str((await registry.providers.create(actor, body)).id)


async def test_lists_the_upstream_models_with_the_stored_key(
    registry: Registry, admin: Actor
) -> None:
    async with fake_upstream({MODELS: json_reply(LISTED)}) as upstream:
        pid = await _provider(registry, admin, f"{upstream.url}/v1")
        result = await probe(registry.db, admin, pid)
    assert result.ok, result
    assert (result.call, result.status) == ("list models", 200)
    assert result.summary.startswith("7 models listed: m-0, m-1, m-2, m-3, m-4, …")
    assert result.latency_ms >= 0
    (sent,) = upstream.received
    assert (sent.method, sent.path) == MODELS
    assert sent.headers["Authorization"] == f"Bearer {KEY}"


async def test_an_upstream_refusal_is_its_status_and_message_without_the_key(
    registry: Registry, admin: Actor
) -> None:
    refusal = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "auth"}}
    async with fake_upstream({MODELS: json_reply(refusal, status=401)}) as upstream:
        pid = await _provider(registry, admin, f"{upstream.url}/v1")
        result = await probe(registry.db, admin, pid)
    assert not result.ok
    assert result.status == 401
    assert result.code == "UPSTREAM_AUTH_FAILED"
    assert "HTTP 401" in result.summary
    assert "Incorrect API key provided" in result.summary
    assert KEY not in result.summary
    assert KEY[:12] not in result.summary


async def test_a_kind_without_a_models_list_makes_a_one_token_chat(
    registry: Registry, admin: Actor
) -> None:
    async with fake_upstream({CHAT: json_reply(fixture("openai/chat_completion.json"))}) as up:
        config = {"endpoint_path_template": "/v1/chat/completions"}
        made = await registry.providers.create(
            admin,
            {
                "name": "decl",
                "kind": "declarative",
                "base_url": up.url,
                "api_key": KEY,
                "config": EXAMPLE_OPENAI_CHAT | config,
            },
        )
        none_yet = await probe(registry.db, admin, made.id)
        assert not none_yet.ok
        assert none_yet.code == "NOT_CALLED"
        assert "add a model first" in none_yet.summary
        await registry.models.create(
            admin, {"provider_id": made.id, "model_id": "tiny", "capabilities": ["text"]}
        )
        result = await probe(registry.db, admin, made.id)
    assert result.ok, result
    assert result.call == "chat with tiny"
    assert result.summary.startswith("replied: ")
    (sent,) = up.received
    assert sent.body["max_tokens"] == 1
    assert sent.body["model"] == "tiny"


async def test_a_slow_upstream_times_out_within_the_providers_timeout(
    registry: Registry, admin: Actor
) -> None:
    async def slow(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.json_response(LISTED)

    async with fake_upstream({MODELS: slow}) as upstream:
        pid = await _provider(registry, admin, f"{upstream.url}/v1", timeout_ms=300)
        result = await probe(registry.db, admin, pid)
    assert not result.ok
    assert result.code == "UPSTREAM_TIMEOUT"
    assert result.latency_ms < 3000


async def test_a_keyless_provider_of_a_keyed_kind_is_not_called(
    registry: Registry, admin: Actor
) -> None:
    made = await registry.providers.create(
        admin, {"name": "oa", "kind": "openai", "enabled": False}
    )
    result = await probe(registry.db, admin, made.id)
    assert (result.ok, result.code, result.call) == (False, "NOT_CALLED", "none")
    assert "no API key" in result.summary


async def test_a_members_provider_cannot_reach_a_loopback_upstream(
    registry: Registry, admin: Actor
) -> None:
    async with fake_upstream({MODELS: json_reply(LISTED)}) as upstream:
        member = await _member(registry, admin)
        pid = await _provider(registry, member, "http://93.184.215.14/v1")
        async with registry.db.engine.begin() as conn:  # as a rebinding name would do
            await conn.execute(
                update(Provider)
                .where(Provider.id == uuid.UUID(pid))
                .values(base_url=f"{upstream.url}/v1")
            )
        result = await probe(registry.db, member, pid)
    assert not result.ok
    assert result.code == "ADDRESS_REFUSED"
    assert "public addresses" in result.summary
    assert upstream.received == []


async def test_only_who_manages_a_provider_may_test_it(registry: Registry, admin: Actor) -> None:
    system = await _provider(registry, admin, "http://93.184.215.14/v1")
    member = await _member(registry, admin)
    other = await _member(registry, admin, "other@example.com")
    theirs = await _provider(registry, other, "http://93.184.215.14/v1")
    with pytest.raises(Forbidden):
        await probe(registry.db, member, system)
    with pytest.raises(NotFound):
        await probe(registry.db, member, theirs)
    with pytest.raises(NotFound):
        await probe(registry.db, member, "not-an-id")


async def test_an_ollama_server_lists_its_models(registry: Registry, admin: Actor) -> None:
    tags = {"models": [{"name": "llama3.2:1b"}, {"name": "qwen2.5:0.5b"}]}
    async with fake_upstream({("GET", "/api/tags"): json_reply(tags)}) as upstream:
        made = await registry.providers.create(
            admin, {"name": "local", "kind": "ollama", "base_url": upstream.url}
        )
        result = await probe(registry.db, admin, made.id)
    assert result.ok, result
    assert result.summary == "2 models listed: llama3.2:1b, qwen2.5:0.5b"


async def test_anthropic_and_gemini_list_their_models_with_their_own_key_headers(
    registry: Registry, admin: Actor
) -> None:
    routes = {
        ("GET", "/v1/models"): json_reply({"data": [{"id": "claude-x", "type": "model"}]}),
        ("GET", "/v1beta/models"): json_reply({"models": [{"name": "models/gemini-x"}]}),
    }
    async with fake_upstream(routes) as upstream:
        claude = await registry.providers.create(
            admin, {"name": "a", "kind": "anthropic", "base_url": upstream.url, "api_key": KEY}
        )
        gemini = await registry.providers.create(
            admin,
            {"name": "g", "kind": "gemini", "base_url": f"{upstream.url}/v1beta", "api_key": KEY},
        )
        first = await probe(registry.db, admin, claude.id)
        second = await probe(registry.db, admin, gemini.id)
    assert first.summary == "1 model listed: claude-x"
    assert second.summary == "1 model listed: gemini-x"
    to_claude, to_gemini = upstream.received
    assert to_claude.headers["x-api-key"] == KEY
    assert to_claude.headers["anthropic-version"] == "2023-06-01"
    assert to_gemini.headers["x-goog-api-key"] == KEY
    assert KEY not in str(to_gemini.query)
