"""Through HTTP, a provider's API key is never shown again once saved: not in any response
(successes, errors, lists, audit, OpenAPI), nor in any log line written meanwhile."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import pytest

from tests.api.helpers import API, auth, make_member, ok


def _planted() -> str:
    return "sk-PLANTED-" + uuid.uuid4().hex


async def test_a_planted_key_appears_in_no_response_and_no_log_line(
    client: httpx.AsyncClient, admin_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first, second = _planted(), _planted()
    admin = auth(admin_key)
    seen: list[httpx.Response] = []

    async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await client.request(method, f"{API}{path}", **kwargs)
        seen.append(response)
        return response

    created = ok(
        await call(
            "POST",
            "/providers",
            headers=admin,
            json={"name": "planted", "kind": "openai", "api_key": first},
        ),
        201,
    )
    pid = created["id"]
    await call(
        "POST",
        "/providers",
        headers=admin,  # a duplicate name: refused
        json={"name": "planted", "kind": "openai", "api_key": first},
    )
    await call(
        "POST",
        "/providers",
        headers=admin,  # a misspelt field carrying the key
        json={"name": "other", "kind": "openai", "api_kee": first},
    )
    await call(
        "POST",
        "/providers",
        headers=admin,  # a key of the wrong type
        json={"name": "other", "kind": "openai", "api_key": {"value": first}},
    )
    await call("GET", f"/providers/{pid}", headers=admin)
    await call("GET", "/providers", headers=admin)
    await call("GET", "/overview", headers=admin)
    await call("PATCH", f"/providers/{pid}", headers=admin, json={"description": "rotated"})
    await call("PUT", f"/providers/{pid}/api-key", headers=admin, json={"api_key": second})
    await call("POST", f"/providers/{pid}/set-default", headers=admin)
    await call("POST", f"/providers/{pid}/activate", headers=admin)
    await call("POST", f"/providers/{pid}/disable", headers=admin)  # refused: active
    member = await make_member(client, admin_key)
    await call("GET", f"/providers/{pid}", headers=member.headers)
    await call("GET", "/overview", headers=member.headers)
    await call("GET", "/audit", headers=admin, params={"limit": 500})
    await call("GET", "/audit/verify", headers=admin)
    seen.append(await client.get("/openapi.json"))

    assert {r.status_code for r in seen} >= {200, 201, 409, 422}
    bodies = "\n".join(r.text for r in seen)
    headers = "\n".join(repr(r.headers) for r in seen)
    logs = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in (first, second):
        assert secret not in bodies
        assert secret not in headers
        assert secret not in logs
    listed = ok(await client.get(f"{API}/providers/{pid}", headers=admin))
    assert listed["api_key"] == f"sk-...{second[-4:]}"
