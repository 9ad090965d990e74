"""/v1 checks a call's parameters as OpenAI does, through the real ASGI app (the ``fake``
provider kind upstream): a body OpenAI refuses gets 400 in OpenAI's error shape with the
parameter named and reaches no provider; a valid one (nulls, every content part, a tool
round trip, fields only some provider knows) passes; and hostile bodies made by mutating a
valid one never get a 5xx, and a 400 names the mutated parameter."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from modelyard.adapters.fake import ADAPTER
from modelyard.gateway.params import check_chat, check_embedding
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running
from tests.gateway.v1_params_cases import (
    CHAT_REFUSED,
    CHAT_VALID,
    EMBED_REFUSED,
    EMBED_VALID,
    MAX_OUTPUT,
    MODEL,
    chat,
    embed,
)
from tests.gateway.v1_rig import Exchange

CHAT = "/v1/chat/completions"
EMBED = "/v1/embeddings"
CAPABILITIES = ["text", "streaming", "embedding", "function_calling", "vision", "json_mode"]


@dataclass
class App:
    app: Any
    key: str
    provider_id: str

    async def send(self, path: str, body: bytes, method: str = "POST") -> Exchange:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [
                (b"authorization", f"Bearer {self.key}".encode()),
                (b"content-type", b"application/json"),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        exchange = Exchange(self.app, scope, body)
        await exchange.run()
        return exchange

    async def call(self, path: str, body: Any) -> Exchange:
        return await self.send(path, orjson.dumps(body))

    @property
    def upstream_calls(self) -> int:
        return ADAPTER._calls.get(self.provider_id, 0)


@pytest.fixture
async def v1(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[App]:
    provider = await registry.providers.create(admin, {"name": "fake-up", "kind": "fake"})
    model = await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": MODEL,
            "capabilities": CAPABILITIES,
            "max_output_tokens": MAX_OUTPUT,
            "price": {"input_per_mtok": "2", "output_per_mtok": "8"},
        },
    )
    await registry.models.set_default(admin, model.id)  # a body may leave the model out
    user = await registry.users.create(admin, UserCreate(email="params@example.com"))
    key = (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key
    local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
    async with running(local, registry) as (_url, app):
        yield App(app, key, str(provider.id))


def error_of(exchange: Exchange) -> dict[str, Any]:
    headers = dict(exchange.start["headers"])
    assert headers[b"content-type"] == b"application/json"
    body = orjson.loads(exchange.content)
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "code", "param"}
    return error


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [case[1:] for case in CHAT_REFUSED],
    ids=[case[0] for case in CHAT_REFUSED],
)
async def test_a_chat_body_openai_refuses_is_a_400_naming_the_param(
    v1: App, body: dict[str, Any], param: str, code: str
) -> None:
    exchange = await v1.call(CHAT, body)
    assert exchange.start["status"] == 400, exchange.content
    error = error_of(exchange)
    assert (error["param"], error["code"], error["type"]) == (
        param,
        code,
        "invalid_request_error",
    )
    assert v1.upstream_calls == 0


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [case[1:] for case in EMBED_REFUSED],
    ids=[case[0] for case in EMBED_REFUSED],
)
async def test_an_embeddings_body_openai_refuses_is_a_400_naming_the_param(
    v1: App, body: dict[str, Any], param: str, code: str
) -> None:
    exchange = await v1.call(EMBED, body)
    assert exchange.start["status"] == 400, exchange.content
    error = error_of(exchange)
    assert (error["param"], error["code"]) == (param, code)
    assert v1.upstream_calls == 0


@pytest.mark.parametrize("body", [case[1] for case in CHAT_VALID], ids=[c[0] for c in CHAT_VALID])
async def test_a_valid_chat_body_is_served(v1: App, body: dict[str, Any]) -> None:
    exchange = await v1.call(CHAT, body)
    assert exchange.start["status"] == 200, exchange.content
    assert v1.upstream_calls == 1


@pytest.mark.parametrize("body", [case[1] for case in EMBED_VALID], ids=[c[0] for c in EMBED_VALID])
async def test_a_valid_embeddings_body_is_served(v1: App, body: dict[str, Any]) -> None:
    exchange = await v1.call(EMBED, body)
    assert exchange.start["status"] == 200, exchange.content
    assert len(orjson.loads(exchange.content)["data"]) == (
        len(body["input"]) if isinstance(body["input"], list) else 1
    )


async def test_the_completion_cap_may_reach_the_models_max_output_and_not_beyond(
    v1: App,
) -> None:
    assert (await v1.call(CHAT, chat(max_tokens=MAX_OUTPUT))).start["status"] == 200
    refused = await v1.call(CHAT, chat(max_tokens=MAX_OUTPUT + 1))
    error = error_of(refused)
    assert error["param"] == "max_tokens"
    assert f"at most {MAX_OUTPUT} completion tokens" in error["message"]


def test_integers_written_as_decimals_are_passed_on_as_integers() -> None:
    body = chat(n=1.0, max_tokens=64.0, temperature=1.0)
    check_chat(body)
    assert [(body[k], type(body[k])) for k in ("n", "max_tokens", "temperature")] == [
        (1, int),
        (64, int),
        (1.0, float),  # a decimal parameter stays one
    ]
    body = embed(input=[[1.0, 2], [3.0]], dimensions=8.0)
    check_embedding(body)
    assert body["input"] == [[1, 2], [3]]
    assert all(type(t) is int for tokens in body["input"] for t in tokens)
    assert type(body["dimensions"]) is int


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", CHAT, b"POST"),
        ("DELETE", EMBED, b"POST"),
        ("POST", "/v1/models", b"GET"),
        ("PUT", f"/v1/models/{MODEL}", b"GET"),
    ],
)
async def test_another_method_on_a_v1_path_is_a_405_naming_the_allowed_one(
    v1: App, method: str, path: str, allow: bytes
) -> None:
    exchange = await v1.send(path, b"{}", method)
    assert exchange.start["status"] == 405
    assert dict(exchange.start["headers"])[b"allow"] == allow
    assert error_of(exchange)["code"] == "method_not_allowed"
    assert (await v1.send("/v1/nothing", b"", "GET")).start["status"] == 404


# -- hostile bodies, generated ------------------------------------------------------------

RICH = chat(
    messages=[
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:,", "detail": "low"}},
            ],
        },
        {
            "role": "assistant",
            "content": "calling",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ],
    temperature=0.5,
    top_p=0.9,
    n=1,
    max_tokens=64,
    stop=["\n"],
    seed=7,
    tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    tool_choice="auto",
    response_format={"type": "json_schema", "json_schema": {"name": "o", "schema": {}}},
    logit_bias={"1": 5},
    stream_options={"include_usage": True},
    user="u",
)
HOSTILE: list[Any] = [
    None, True, False, 0, 1, -1, 2**63, -(2**64), 1.5, -1e308, 1e308, "", "x", "auto",
    "\u0000", "\ud7ff" * 3, "1" * 10_000, [], [None], [{}], ["x"] * 5, {}, {"type": "x"},
    {"": None}, [[[]]], {"type": "function"}, {"role": "user"},
]  # fmt: skip


def leaves(value: Any, path: str = "") -> list[tuple[str, list[Any]]]:
    """Every path of ``value`` (``messages[1].content[0].type``) with its key chain."""
    found: list[tuple[str, list[Any]]] = []

    def walk(node: Any, where: str, chain: list[Any]) -> None:
        if chain:
            found.append((where, chain))
        if isinstance(node, dict):
            for name, item in node.items():
                walk(item, f"{where}.{name}" if where else name, [*chain, name])
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}[{index}]", [*chain, index])

    walk(value, path, [])
    return found


def mutated(rng: random.Random) -> tuple[str, dict[str, Any]]:
    body = json.loads(json.dumps(RICH))
    where, chain = rng.choice(leaves(body))
    node = body
    for step in chain[:-1]:
        node = node[step]
    if rng.random() < 0.15 and isinstance(node, dict):
        del node[chain[-1]]
    else:
        node[chain[-1]] = rng.choice(HOSTILE)
    return where, body


def related(param: str, where: str) -> bool:
    """A refusal may name the mutated path, a part of it, or a field inside it (a mutated
    message is refused for its role)."""
    return param.startswith(where) or where.startswith(param)


async def test_hostile_bodies_get_a_4xx_naming_the_param_and_never_a_5xx(v1: App) -> None:
    rng = random.Random(20261205)
    statuses: dict[int, int] = {}
    for _ in range(400):
        where, body = mutated(rng)
        exchange = await v1.send(CHAT, json.dumps(body).encode())
        status = exchange.start["status"]
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, (where, body, exchange.content)
        if status == 200:
            continue
        error = error_of(exchange)
        assert status in (400, 404), (where, exchange.content)
        if status == 400 and error["code"] != "invalid_request":  # not JSON: no param
            assert isinstance(error["param"], str), (where, error)
            assert related(error["param"], where), (where, error)
    assert statuses.get(400, 0) > 150
    assert statuses.get(200, 0) > 20
