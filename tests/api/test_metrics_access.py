"""/metrics is not served to the world: it takes MODELYARD_METRICS_TOKEN or an admin's API
key as a bearer token (what Prometheus' ``authorization`` config sends), unless
MODELYARD_METRICS_PUBLIC opens it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from modelyard.api.app import create_app
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings

TOKEN = "prom-scrape-0123456789"


async def _client(settings: Settings, registry: Registry) -> httpx.AsyncClient:
    app = create_app(settings, registry=registry)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://modelyard.test")


@pytest.fixture
async def member_key(registry: Registry, admin: Actor) -> str:
    user = await registry.users.create(admin, UserCreate(email="m@example.com"))
    return (await registry.keys.create(admin, ApiKeyCreate(name="m", user_id=user.id))).key


@pytest.fixture
async def guarded(settings: Settings, registry: Registry) -> AsyncIterator[httpx.AsyncClient]:
    local = settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    async with await _client(local, registry) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_metrics_need_the_token_or_an_admin_key(
    guarded: httpx.AsyncClient, admin_key: str, member_key: str
) -> None:
    anonymous = await guarded.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHENTICATED"
    assert (await guarded.get("/metrics", headers=_bearer("wrong-token"))).status_code == 401
    assert (await guarded.get("/metrics", headers=_bearer(member_key))).status_code == 403
    for token in (TOKEN, admin_key):
        served = await guarded.get("/metrics", headers=_bearer(token))
        assert served.status_code == 200, served.text
        assert served.headers["content-type"].startswith("text/plain")


async def test_without_a_token_setting_only_admins_read_metrics(
    settings: Settings, registry: Registry, admin_key: str, member_key: str
) -> None:
    async with await _client(settings, registry) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=_bearer(member_key))).status_code == 403
        assert (await client.get("/metrics", headers=_bearer(admin_key))).status_code == 200


async def test_metrics_public_opens_them(settings: Settings, registry: Registry) -> None:
    local = settings.model_copy(update={"metrics_public": True})
    async with await _client(local, registry) as client:
        assert (await client.get("/metrics")).status_code == 200


def test_metrics_are_closed_by_default() -> None:
    assert Settings().metrics_public is False
    assert Settings().metrics_token is None
