"""Models seeded from the built-in catalog serve tools, JSON mode, images and embeddings out of
the box, through a real server's ``/v1`` to a fake OpenAI upstream on 127.0.0.1; a catalog
model without a capability a request needs is refused naming the model and the capability,
and the upstream is never called."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from modelyard.catalog.data import load_catalog
from modelyard.catalog.seed import seed_catalog
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.common import PageRequest
from modelyard.registry.lookup import ProviderFilter
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running
from tests.gateway.upstream import Upstream, fake_upstream, fixture, json_reply

CHAT = "/v1/chat/completions"
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@dataclass
class Seeded:
    client: httpx.AsyncClient
    upstream: Upstream

    async def chat(self, model: str, **fields: Any) -> httpx.Response:
        content = fields.pop("content", "What is in this picture?")
        body = {"model": model, "messages": [{"role": "user", "content": content}], **fields}
        return await self.client.post(CHAT, json=body)


@pytest.fixture
async def seeded(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Seeded]:
    """The seeded catalog with its ``openai`` provider pointed at a fake upstream, keyed and
    enabled, and a member's key to call it with."""
    await seed_catalog(registry, admin)
    routes = {
        ("POST", "/v1/chat/completions"): json_reply(fixture("openai/chat_completion.json")),
        ("POST", "/v1/embeddings"): json_reply(fixture("openai/embeddings.json")),
    }
    async with fake_upstream(routes) as upstream:
        page = await registry.providers.list(
            admin, PageRequest(limit=100), ProviderFilter(owner="system")
        )
        [openai] = [p for p in page.items if p.name == "openai"]
        await registry.providers.update(admin, openai.id, {"base_url": f"{upstream.url}/v1"})
        await registry.providers.rotate_key(admin, openai.id, "sk-catalog-0123456789abcd")
        await registry.providers.set_enabled(admin, openai.id, True)
        user = await registry.users.create(admin, UserCreate(email="catalog@example.com"))
        key = (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key
        local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
        async with (
            running(local, registry) as (url, _app),
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client,
        ):
            yield Seeded(client, upstream)


@pytest.mark.parametrize(
    ("fields", "forwarded", "expected"),
    [
        pytest.param(
            {"tools": [TOOL]},
            lambda body: body["tools"][0]["function"]["name"],
            "get_weather",
            id="tools",
        ),
        pytest.param(
            {"content": [{"type": "text", "text": "What?"}, IMAGE]},
            lambda body: body["messages"][0]["content"][1],
            IMAGE,
            id="image",
        ),
        pytest.param(
            {"response_format": {"type": "json_object"}},
            lambda body: body["response_format"],
            {"type": "json_object"},
            id="json-mode",
        ),
    ],
)
async def test_a_seeded_gpt_4o_serves_tools_images_and_json_mode(
    seeded: Seeded, fields: dict[str, Any], forwarded: Callable[[Any], Any], expected: Any
) -> None:
    response = await seeded.chat("gpt-4o", **fields)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]
    [received] = seeded.upstream.received
    assert received.path == "/v1/chat/completions"
    assert received.body["model"] == "gpt-4o"
    assert forwarded(received.body) == expected


async def test_a_seeded_embedding_model_embeds(seeded: Seeded) -> None:
    response = await seeded.client.post(
        "/v1/embeddings", json={"model": "text-embedding-3-small", "input": "hello"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"][0]["embedding"]
    [received] = seeded.upstream.received
    assert received.body["model"] == "text-embedding-3-small"


async def test_a_seeded_model_without_vision_is_refused_naming_model_and_capability(
    seeded: Seeded,
) -> None:
    [openai] = [p for p in load_catalog() if p.name == "openai"]
    blind = next(
        m.model_id
        for m in openai.models
        if "vision" not in m.capabilities and "embedding" not in m.capabilities
    )
    response = await seeded.chat(blind, content=[{"type": "text", "text": "What?"}, IMAGE])
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "capability_missing", error
    assert error["message"] == (
        f"model {blind!r} lacks the vision capability this request needs; use a model that "
        "has it, or an admin adds it to the model's capabilities if the model supports it"
    )
    assert seeded.upstream.received == []


async def test_every_missing_capability_is_named(seeded: Seeded) -> None:
    response = await seeded.chat(
        "text-embedding-3-small",
        content=[{"type": "text", "text": "What?"}, IMAGE],
        tools=[TOOL],
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "capability_missing", error
    assert error["message"].startswith(
        "model 'text-embedding-3-small' lacks the function_calling and vision capabilities "
        "this request needs; use a model that has them"
    )
    assert seeded.upstream.received == []
