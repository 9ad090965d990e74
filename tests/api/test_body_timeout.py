"""A request whose body stalls (8 of 100 bytes sent) gets 408 REQUEST_TIMEOUT once
MODELYARD_BODY_TIMEOUT_S have passed, on /v1 and on the admin API alike, from a real server
over a raw socket; a body that arrives whole in time is served as before."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running


async def _partial(url: str, path: str, key: str, sent: bytes, length: int) -> tuple[int, Any]:
    """Send headers announcing ``length`` bytes and then only ``sent``; the reply."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    writer.write(head.encode() + sent)
    await writer.drain()
    try:
        raw = await asyncio.wait_for(reader.read(65536), 30)  # a guard: the server must answer
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), orjson.loads(body)


@pytest.fixture
def quick(settings: Settings, tmp_path: Any) -> Settings:
    return settings.model_copy(
        update={"body_timeout_s": 0.3, "usage_outbox": tmp_path / "usage.outbox"}
    )


@pytest.mark.parametrize(
    ("path", "shape"),
    [("/v1/chat/completions", "openai"), ("/api/v1/users", "admin")],
)
async def test_a_stalled_body_gets_408_after_the_body_timeout(
    quick: Settings, registry: Registry, admin_key: str, path: str, shape: str
) -> None:
    async with running(quick, registry) as (url, _):
        status, body = await _partial(url, path, admin_key, b'{"model"', 100)
    assert status == 408
    if shape == "openai":
        assert body["error"]["code"] == "request_timeout"
        assert body["error"]["type"] == "invalid_request_error"
    else:
        assert body["error"]["code"] == "REQUEST_TIMEOUT"
    assert "0.3 s" in body["error"]["message"]


async def test_a_whole_body_in_time_is_served(
    quick: Settings, registry: Registry, admin: Actor, admin_key: str
) -> None:
    payload = orjson.dumps({"email": "timely@example.com"})
    async with running(quick, registry) as (url, _):
        status, body = await _partial(url, "/api/v1/users", admin_key, payload, len(payload))
    assert status == 201, body
    assert body["email"] == "timely@example.com"


def test_the_body_timeout_is_a_documented_process_setting() -> None:
    assert Settings().body_timeout_s == 30.0
    assert Settings(body_timeout_s=2).body_timeout_s == 2
