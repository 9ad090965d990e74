"""A provider key planted where it does not belong never comes back out: not in a base URL's
user/password (refused, or masked on a row stored before), and not from an upstream that
echoes it in an error, whole or cut short across the 500-character limit. Checked in every
response, header, log line (caplog), audit event, usage row and raised message."""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from aiohttp import web
from sqlalchemy import select, update

from modelyard.adapters import edge
from modelyard.db.tables import AuditEvent, Provider, UsageEvent
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.helpers import API, auth, make_member
from tests.gateway.server import running
from tests.gateway.upstream import fake_upstream

CHAT = ("POST", "/v1/chat/completions")


def _planted() -> str:
    return "sk-PLANTED-" + uuid.uuid4().hex


def _fragments(secret: str, size: int = 8) -> list[str]:
    """Every run of ``size`` characters of the secret."""
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


async def _everything_stored(registry: Registry) -> str:
    async with registry.db.engine.connect() as conn:
        audit = (await conn.execute(select(AuditEvent.__table__))).all()
        usage = (await conn.execute(select(UsageEvent.__table__))).all()
    return repr(audit) + repr(usage)


async def test_a_key_planted_in_a_base_url_is_refused_and_never_shown(
    client: httpx.AsyncClient,
    admin_key: str,
    registry: Registry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = _planted()
    admin = auth(admin_key)
    member = await make_member(client, admin_key)
    seen: list[httpx.Response] = []

    async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await client.request(method, f"{API}{path}", **kwargs)
        seen.append(response)
        return response

    for url in (
        f"https://user:{secret}@api.example.com/v1",
        f"https://{secret}@api.example.com/v1",
        f"https://api.example.com/v1?api_key={secret}",
    ):
        for headers in (admin, member.headers):
            refused = await call(
                "POST",
                "/providers",
                headers=headers,
                json={"name": "p", "kind": "openai", "base_url": url, "api_key": "sk-x"},
            )
            assert refused.status_code == 422, refused.text
            assert "base_url" in refused.json()["error"]["message"]
            assert "api_key" in refused.json()["error"]["message"]
    created = await call(
        "POST",
        "/providers",
        headers=admin,
        json={
            "name": "old",
            "kind": "openai",
            "base_url": "https://api.example.com/v1",
            "api_key": "sk-x",
        },
    )
    pid = created.json()["id"]
    refused = await call(
        "PATCH",
        f"/providers/{pid}",
        headers=admin,
        json={"base_url": f"https://u:{secret}@api.example.com"},
    )
    assert refused.status_code == 422
    async with registry.db.engine.begin() as conn:  # a row stored before the rule
        await conn.execute(
            update(Provider)
            .where(Provider.id == uuid.UUID(pid))
            .values(base_url=f"https://u:{secret}@api.example.com/v1")
        )
    caplog.clear()  # the driver's debug lines of that planting itself
    for headers in (admin, member.headers):
        shown = await call("GET", f"/providers/{pid}", headers=headers)
        assert shown.json()["base_url"] == "https://***@api.example.com/v1"
        await call("GET", "/providers", headers=headers)
        await call("GET", "/overview", headers=headers)
    await call("PATCH", f"/providers/{pid}", headers=admin, json={"description": "touched"})
    await call("GET", "/audit", headers=admin, params={"limit": 500})

    bodies = "\n".join(r.text for r in seen)
    headers_seen = "\n".join(repr(r.headers) for r in seen)
    logs = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    stored = await _everything_stored(registry)
    for where in (bodies, headers_seen, logs, stored):
        assert secret not in where
        assert quote(secret, safe="") not in where


def _echoes(secret: str) -> list[str]:
    """Upstream error messages carrying the key: whole across the cut, cut short by the
    upstream itself at 500 characters (15 of its characters left), and query-encoded."""
    head = "x" * (edge.MESSAGE_LIMIT - 15)
    return [
        head + secret + " was rejected",
        (head + secret)[: edge.MESSAGE_LIMIT],
        f"bad request to /v1/chat?key={quote(secret, safe='/')} ... " + "y" * 600,
        "Incorrect API key provided: " + secret[:30] + "*" * 10,
    ]


@pytest.mark.parametrize("echo", range(4))
async def test_an_upstream_echoing_the_key_leaks_none_of_it(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Any,
    caplog: pytest.LogCaptureFixture,
    echo: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = _planted()
    message = _echoes(secret)[echo]

    async def echoing(_: web.Request) -> web.StreamResponse:
        body = {"error": {"message": message, "type": "invalid_request_error", "param": message}}
        return web.Response(body=orjson.dumps(body), status=400, content_type="application/json")

    async with fake_upstream({CHAT: echoing}) as upstream:
        provider = await registry.providers.create(
            admin,
            {
                "name": "echo",
                "kind": "openai",
                "base_url": f"{upstream.url}/v1",
                "api_key": secret,
            },
        )
        await registry.models.create(
            admin, {"provider_id": provider.id, "model_id": "m", "capabilities": ["text"]}
        )
        user = await registry.users.create(admin, UserCreate(email="app@example.com"))
        key = (await registry.keys.create(admin, ApiKeyCreate(name="k", user_id=user.id))).key
        local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
        async with running(local, registry) as (url, app), httpx.AsyncClient() as http:
            replies = [
                await http.post(
                    f"{url}/v1/chat/completions",
                    json={"model": "m", "messages": [{"role": "user", "content": "hi"}]} | extra,
                    headers={"Authorization": f"Bearer {key}"},
                )
                for extra in ({}, {"stream": True})
            ]
            await app.state.gateway.recorder.flush()
    assert upstream.received  # the upstream was called with the key, and echoed it
    assert [r.status_code for r in replies] == [400, 400]
    seen = "\n".join(r.text + repr(r.headers) for r in replies)
    logs = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    stored = await _everything_stored(registry)
    for where in (seen, logs, stored):
        assert secret not in where
        for fragment in _fragments(secret):
            assert fragment not in where, (fragment, where[:2000])
