"""An OpenAI-format JSON reply (chat completion, embeddings) reaches the client as the bytes
the upstream sent, not decoded and encoded again; the call's usage and cost are still read
from it. A reply modelyard builds itself (another wire format, the ``fake`` kind) is encoded
by modelyard and carries no upstream bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
from aiohttp import web

from modelyard.adapters.anthropic import ADAPTER as ANTHROPIC
from modelyard.adapters.base import Target
from modelyard.adapters.openai import ADAPTER as OPENAI
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.upstream import Handler, fake_upstream, fixture, json_reply
from tests.gateway.v1_rig import CHAT, EMBED, MODEL, PROVIDER, Rig, openai_rig

# Valid JSON that no encoder of modelyard's would write: key order, spacing and newlines,
# escaped characters (\u00e9, \/) and numbers in forms orjson normalises (1.50e0, 1E2).
RAW_CHAT = (
    b'{\n  "usage" : { "total_tokens" : 17, "completion_tokens" : 5, "prompt_tokens" : 12 },\n'
    b'  "choices" : [ { "finish_reason" : "stop", "logprobs" : null, "index" : 0,\n'
    b'      "message" : { "content" : "caf\\u00e9 \\/ na\\u00efve", "role" : "assistant" } } ],\n'
    b'  "x_score" : 1.50e0, "model" : "gpt-4o-mini", "object" : "chat.completion",\n'
    b'  "created" : 1700000000, "id" : "chatcmpl-raw"\n}\n'
)
RAW_EMBEDDINGS = (
    b'{ "usage":{"total_tokens":7, "prompt_tokens":7},\n'
    b' "data":[ {"embedding":[0.10, -2.5e-3, 1E2], "index":0, "object":"embedding"} ],\n'
    b' "model":"text-embedding-3-small", "object":"list" }'
)


def make_target(url: str, **overrides: Any) -> Target:
    """An OpenAI provider at a local fake upstream."""
    fields: dict[str, Any] = {
        "provider_id": "p1",
        "provider_name": "openai-main",
        "kind": "openai",
        "base_url": f"{url}/v1",
        "api_key": "sk-test-key",
        "model_id": "gpt-4o-mini",
    }
    return Target(**(fields | overrides))


def raw_reply(body: bytes) -> Handler:
    async def handler(_: web.Request) -> web.StreamResponse:
        return web.Response(body=body, headers={"Content-Type": "application/json"})

    return handler


@pytest.fixture
async def rig(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    async with openai_rig(settings, registry, admin, tmp_path) as made:
        yield made


async def post(rig: Rig, path: str, body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=rig.url) as http:
        headers = {"Authorization": f"Bearer {rig.key}"}
        return await http.post(path, json=body, headers=headers)


def test_the_payloads_differ_from_what_modelyard_would_encode() -> None:
    for raw in (RAW_CHAT, RAW_EMBEDDINGS):
        assert orjson.dumps(orjson.loads(raw)) != raw


async def test_a_chat_completion_reaches_the_client_as_the_upstreams_bytes(rig: Rig) -> None:
    rig.reply(CHAT, raw_reply(RAW_CHAT))
    ask = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    response = await post(rig, "/v1/chat/completions", ask)
    assert response.status_code == 200
    assert response.content == RAW_CHAT
    assert response.headers["content-length"] == str(len(RAW_CHAT))
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-modelyard-provider"] == PROVIDER
    assert response.json()["choices"][0]["message"]["content"] == "café / naïve"
    [record] = rig.records
    [row] = await rig.usage()
    assert (row.status, row.operation, row.estimated) == ("ok", "chat", False)
    assert (row.prompt_tokens, row.completion_tokens) == (12, 5)
    assert row.cost == Decimal("0.000064")  # 12 at 2 and 5 at 8 per Mtok
    assert record.request_id == response.headers["x-request-id"]


async def test_embeddings_reach_the_client_as_the_upstreams_bytes(rig: Rig) -> None:
    rig.reply(EMBED, raw_reply(RAW_EMBEDDINGS))
    response = await post(rig, "/v1/embeddings", {"model": MODEL, "input": "hello"})
    assert response.status_code == 200
    assert response.content == RAW_EMBEDDINGS
    assert response.headers["content-length"] == str(len(RAW_EMBEDDINGS))
    assert response.json()["data"][0]["embedding"] == [0.1, -0.0025, 100.0]
    [record] = rig.records
    [row] = await rig.usage()
    assert (row.status, row.operation) == ("ok", "embedding")
    assert (row.prompt_tokens, row.completion_tokens, row.estimated) == (7, 0, False)
    assert row.cost == Decimal("0.000014")
    assert record.request_id == response.headers["x-request-id"]


async def test_a_reply_without_usage_still_passes_through_and_is_estimated(rig: Rig) -> None:
    raw = RAW_CHAT.replace(
        b'"usage" : { "total_tokens" : 17, "completion_tokens" : 5, "prompt_tokens" : 12 },', b""
    )
    assert b"usage" not in raw
    rig.reply(CHAT, raw_reply(raw))
    ask = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    response = await post(rig, "/v1/chat/completions", ask)
    assert response.content == raw
    [row] = await rig.usage()
    assert row.estimated is True
    assert row.prompt_tokens > 0
    assert row.completion_tokens > 0


async def test_replies_of_the_fake_kind_are_encoded_by_modelyard(rig: Rig, admin: Actor) -> None:
    registry = rig.registry
    provider = await registry.providers.create(
        admin, {"name": "local-fake", "kind": "fake", "config": {"reply": "¡hola / café!"}}
    )
    await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": "fake-model",
            "capabilities": ["text", "embedding"],
            "price": {"input_per_mtok": "1", "output_per_mtok": "1"},
        },
    )
    await rig.app.state.gateway.holder.refresh()
    ask = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    chat = await post(rig, "/v1/chat/completions", ask)
    embedded = await post(rig, "/v1/embeddings", {"model": "fake-model", "input": ["a", "b"]})
    for response in (chat, embedded):
        assert response.status_code == 200, response.text
        assert response.content == orjson.dumps(response.json())  # modelyard's own encoding
    assert chat.json()["choices"][0]["message"]["content"] == "¡hola / café!"
    assert [item["index"] for item in embedded.json()["data"]] == [0, 1]
    assert [r.status for r in rig.records] == ["ok", "ok"]
    assert rig.upstream.received == []  # the OpenAI upstream was never asked


async def test_the_openai_adapter_keeps_the_exact_reply_bytes() -> None:
    routes = {CHAT: raw_reply(RAW_CHAT), EMBED: raw_reply(RAW_EMBEDDINGS)}
    async with fake_upstream(routes) as up, aiohttp.ClientSession() as http:
        chat = await OPENAI.chat(http, make_target(up.url), {"messages": []})
        embedded = await OPENAI.embed(http, make_target(up.url), {"input": "x"})
    assert (chat.raw, chat.body) == (RAW_CHAT, orjson.loads(RAW_CHAT))
    assert (embedded.raw, embedded.body) == (RAW_EMBEDDINGS, orjson.loads(RAW_EMBEDDINGS))


async def test_a_reply_translated_from_another_wire_format_has_no_raw_bytes() -> None:
    route = ("POST", "/v1/messages")
    async with (
        fake_upstream({route: json_reply(fixture("anthropic/message_text.json"))}) as up,
        aiohttp.ClientSession() as http,
    ):
        target = make_target(up.url, kind="anthropic", base_url=up.url, model_id="claude")
        result = await ANTHROPIC.chat(
            http, target, {"messages": [{"role": "user", "content": "x"}]}
        )
    assert result.raw is None
    assert result.body["object"] == "chat.completion"
