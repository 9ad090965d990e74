"""Embeddings answer in the encoding the client asked for (``float`` or ``base64``, OpenAI's
little-endian float32), whatever the upstream sent: the official ``openai`` SDK (which asks
for base64) and raw HTTP against an upstream that only answers floats and one that answers
base64; the upstream's bytes pass on unchanged when no conversion is needed."""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import orjson
import pytest
from aiohttp import web

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.upstream import Handler
from tests.gateway.v1_rig import EMBED, MODEL, Rig, openai_rig

VECTORS = [[0.1, -0.0025, 100.0, 1e-7, -3.75, 0.333333333, 2.5e10], [1.0, -1.0, 0.0, 0.5]]
USAGE = {"prompt_tokens": 4, "total_tokens": 4}


def float32(values: list[float]) -> list[float]:
    """``values`` as float32 holds them: what base64 carries."""
    return list(struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values)))


def packed(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def document(vectors: list[Any]) -> dict[str, Any]:
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    return {"object": "list", "data": data, "model": MODEL, "usage": USAGE}


def floats_only() -> Handler:
    """An upstream that ignores ``encoding_format`` and always answers floats."""

    async def handler(_: web.Request) -> web.StreamResponse:
        return web.Response(body=orjson.dumps(document(VECTORS)), content_type="application/json")

    return handler


def as_asked() -> Handler:
    """An upstream that honours ``encoding_format`` (base64 when asked)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        asked = (await request.json()).get("encoding_format")
        vectors: list[Any] = [packed(v) for v in VECTORS] if asked == "base64" else VECTORS
        return web.Response(body=orjson.dumps(document(vectors)), content_type="application/json")

    return handler


def base64_only() -> Handler:
    """An upstream that always answers base64."""

    async def handler(_: web.Request) -> web.StreamResponse:
        vectors = [packed(v) for v in VECTORS]
        return web.Response(body=orjson.dumps(document(vectors)), content_type="application/json")

    return handler


@pytest.fixture
async def rig(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    async with openai_rig(settings, registry, admin, tmp_path) as made:
        yield made


async def post(rig: Rig, body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=rig.url) as http:
        headers = {"Authorization": f"Bearer {rig.key}"}
        return await http.post("/v1/embeddings", json=body, headers=headers)


@pytest.mark.parametrize("upstream", [floats_only, as_asked], ids=["floats-only", "as-asked"])
async def test_the_sdk_gets_exact_vectors_whatever_the_upstream_sends(
    rig: Rig, upstream: Any
) -> None:
    rig.reply(EMBED, upstream())
    async with openai.AsyncOpenAI(base_url=f"{rig.url}/v1", api_key=rig.key) as client:
        result = await client.embeddings.create(model=MODEL, input=["one", "two"])
    assert rig.upstream.received[-1].body["encoding_format"] == "base64"  # the SDK's default
    assert [len(item.embedding) for item in result.data] == [7, 4]
    assert [item.embedding for item in result.data] == [float32(v) for v in VECTORS]
    assert result.usage.prompt_tokens == 4
    [row] = await rig.usage()
    assert (row.status, row.operation, row.prompt_tokens) == ("ok", "embedding", 4)


async def test_the_sdk_asking_floats_gets_them_from_a_base64_upstream(rig: Rig) -> None:
    rig.reply(EMBED, base64_only())
    async with openai.AsyncOpenAI(base_url=f"{rig.url}/v1", api_key=rig.key) as client:
        result = await client.embeddings.create(model=MODEL, input="one", encoding_format="float")
    assert [item.embedding for item in result.data] == [float32(v) for v in VECTORS]


async def test_base64_asked_of_a_floats_upstream_is_encoded(rig: Rig) -> None:
    rig.reply(EMBED, floats_only())
    response = await post(rig, {"model": MODEL, "input": "one", "encoding_format": "base64"})
    assert response.status_code == 200
    data = response.json()["data"]
    assert [item["embedding"] for item in data] == [packed(v) for v in VECTORS]
    assert [item["index"] for item in data] == [0, 1]
    assert response.json()["usage"] == USAGE


@pytest.mark.parametrize("asked", [{"encoding_format": "float"}, {}], ids=["float", "default"])
async def test_floats_asked_of_a_base64_upstream_are_decoded(
    rig: Rig, asked: dict[str, str]
) -> None:
    rig.reply(EMBED, base64_only())
    response = await post(rig, {"model": MODEL, "input": "one", **asked})
    assert response.status_code == 200
    assert [item["embedding"] for item in response.json()["data"]] == [float32(v) for v in VECTORS]


@pytest.mark.parametrize(
    ("asked", "upstream"), [("float", floats_only), ("base64", as_asked)], ids=["float", "base64"]
)
async def test_what_needs_no_conversion_passes_as_the_upstreams_bytes(
    rig: Rig, asked: str, upstream: Any
) -> None:
    rig.reply(EMBED, upstream())
    response = await post(rig, {"model": MODEL, "input": "one", "encoding_format": asked})
    vectors: list[Any] = VECTORS if asked == "float" else [packed(v) for v in VECTORS]
    assert response.content == orjson.dumps(document(vectors))


@pytest.mark.parametrize(
    "embedding",
    ["not base64!", base64.b64encode(b"\x00\x01\x02").decode(), ["x", 1]],
)
async def test_an_embedding_that_cannot_be_converted_is_an_upstream_error(
    rig: Rig, embedding: Any
) -> None:
    async def handler(_: web.Request) -> web.StreamResponse:
        body = orjson.dumps(document([embedding]))
        return web.Response(body=body, content_type="application/json")

    rig.reply(EMBED, handler)
    asked = "base64" if isinstance(embedding, list) else "float"
    response = await post(rig, {"model": MODEL, "input": "one", "encoding_format": asked})
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_error"
    [row] = await rig.usage()
    assert (row.status, row.error_code) == ("error", "UPSTREAM_ERROR")
