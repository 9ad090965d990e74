"""Shared helpers for the HTTP tests: headers, the error shape, and a few builders."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

from modelyard.registry.scopes import SCOPES

API = "/api/v1"
JAN, MAR = "2030-01-01T00:00:00Z", "2030-03-01T00:00:00Z"  # when the `priced` model's prices start
_serial = itertools.count(1)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is exactly ``{"error": {"code", "message", "details"}}`` with ``status``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    if code is not None:
        assert error["code"] == code, error
    return error


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@dataclass(frozen=True)
class Member:
    id: str
    email: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.key)


async def make_member(
    client: httpx.AsyncClient,
    admin_key: str,
    *,
    role: str = "member",
    scopes: list[str] | None = None,
) -> Member:
    email = f"user{next(_serial)}@example.com"
    user = ok(
        await client.post(
            f"{API}/users", headers=auth(admin_key), json={"email": email, "role": role}
        ),
        201,
    )
    # every scope unless told: these members manage their own providers and keys over REST
    # (a member's key gets llm.inference and models.read when none are asked for)
    body = {"name": "test key", "user_id": user["id"], "scopes": scopes or list(SCOPES)}
    created = ok(await client.post(f"{API}/keys", headers=auth(admin_key), json=body), 201)
    return Member(id=user["id"], email=email, key=created["key"])


async def make_provider(
    client: httpx.AsyncClient, key: str, name: str = "openai", **fields: Any
) -> dict[str, Any]:
    body = {"name": name, "kind": "openai", "api_key": "sk-test-0123456789abcd"} | fields
    created: dict[str, Any] = ok(
        await client.post(f"{API}/providers", headers=auth(key), json=body), 201
    )
    return created


async def make_model(
    client: httpx.AsyncClient, key: str, provider_id: str, model_id: str = "gpt-4o", **fields: Any
) -> dict[str, Any]:
    body = {"provider_id": provider_id, "model_id": model_id} | fields
    created: dict[str, Any] = ok(
        await client.post(f"{API}/models", headers=auth(key), json=body), 201
    )
    return created


async def snapshot(client: httpx.AsyncClient, key: str, *paths: str) -> list[Any]:
    """What the given GETs answer now; compare before and after a refused change."""
    return [ok(await client.get(path, headers=auth(key))) for path in paths]
