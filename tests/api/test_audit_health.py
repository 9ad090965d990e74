"""The audit trail, health checks and the published API description."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from tests.api.helpers import API, assert_error, auth, make_member, make_model, make_provider, ok

AUDIT = f"{API}/audit"
PROVIDER_KEY = "sk-secret-plaintext-0123456789wxyz"


async def _some_history(client: httpx.AsyncClient, admin_key: str) -> dict[str, Any]:
    provider = await make_provider(client, admin_key, "openai", api_key=PROVIDER_KEY)
    ok(
        await client.patch(
            f"{API}/providers/{provider['id']}", headers=auth(admin_key), json={"rpm_limit": 10}
        )
    )
    await make_model(client, admin_key, provider["id"])
    return provider


async def test_audit_records_each_change_newest_first_with_the_key_masked(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await _some_history(client, admin_key)
    response = await client.get(AUDIT, headers=auth(admin_key))
    assert PROVIDER_KEY not in response.text
    page = ok(response)
    actions = [e["action"] for e in page["items"]]
    assert actions[:3] == ["model.create", "provider.update", "provider.create"]
    assert page["total"] == len(actions)
    ids = [e["id"] for e in page["items"]]
    assert ids == sorted(ids, reverse=True)
    created = page["items"][2]
    assert (created["entity_type"], created["entity_id"]) == ("provider", provider["id"])
    assert created["after"]["api_key"] == "sk-...wxyz"
    assert created["actor_label"] == "user:admin@example.com"
    updated = page["items"][1]
    assert (updated["before"]["rpm_limit"], updated["after"]["rpm_limit"]) == (None, 10)


@pytest.mark.parametrize(
    ("params", "actions"),
    [
        ({"entity_type": "provider"}, ["provider.update", "provider.create"]),
        ({"action": "model.create"}, ["model.create"]),
        ({"entity_type": "model", "limit": 1}, ["model.create"]),
        ({"action": "provider.create", "since": "2000-01-01T00:00:00Z"}, ["provider.create"]),
        ({"action": "provider.create", "until": "2000-01-01T00:00:00Z"}, []),
    ],
)
async def test_audit_list_filters(
    client: httpx.AsyncClient, admin_key: str, params: dict[str, Any], actions: list[str]
) -> None:
    await _some_history(client, admin_key)
    page = ok(await client.get(AUDIT, headers=auth(admin_key), params=params))
    assert [e["action"] for e in page["items"]] == actions


async def test_audit_list_filters_by_actor_and_entity(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    provider = await make_provider(client, member.key, "mine")
    by_member = ok(await client.get(AUDIT, headers=auth(admin_key), params={"actor_id": member.id}))
    assert [e["action"] for e in by_member["items"]] == ["provider.create"]
    by_entity = ok(
        await client.get(AUDIT, headers=auth(admin_key), params={"entity_id": provider["id"]})
    )
    assert by_entity["items"] == by_member["items"]


async def test_audit_chain_verifies(client: httpx.AsyncClient, admin_key: str) -> None:
    await _some_history(client, admin_key)
    total = ok(await client.get(AUDIT, headers=auth(admin_key)))["total"]
    report = ok(await client.get(f"{AUDIT}/verify", headers=auth(admin_key)))
    assert report == {"ok": True, "checked": total, "broken_at": None, "reason": None}


@pytest.mark.parametrize("path", [AUDIT, f"{AUDIT}/verify"])
async def test_members_may_not_read_the_audit_trail(
    client: httpx.AsyncClient, admin_key: str, path: str
) -> None:
    member = await make_member(client, admin_key)
    before = ok(await client.get(AUDIT, headers=auth(admin_key)))
    assert_error(await client.get(path, headers=member.headers), 403, "FORBIDDEN")
    assert ok(await client.get(AUDIT, headers=auth(admin_key))) == before


@pytest.mark.parametrize("params", [{"since": "2030-01-01T00:00:00"}, {"until": "yesterday"}])
async def test_audit_time_filters_need_a_zone(
    client: httpx.AsyncClient, admin_key: str, params: dict[str, str]
) -> None:
    assert_error(await client.get(AUDIT, headers=auth(admin_key), params=params), 422)


async def test_liveness_and_readiness(client: httpx.AsyncClient) -> None:
    assert ok(await client.get("/health")) == {"status": "ok", "pid": os.getpid()}
    ready = ok(await client.get("/health/ready"))
    assert ready == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


ROUTES = {
    "/api/v1/providers": {"get", "post"},
    "/api/v1/models": {"get", "post"},
    "/api/v1/models/{model_id}": {"get", "patch", "delete"},
    "/api/v1/models/{model_id}/deprecate": {"post"},
    "/api/v1/models/{model_id}/reactivate": {"post"},
    "/api/v1/models/{model_id}/set-default": {"post"},
    "/api/v1/models/{model_id}/prices": {"get", "post"},
    "/api/v1/models/{model_id}/price": {"get"},
    "/api/v1/settings": {"get"},
    "/api/v1/settings/{key}": {"get", "put", "delete"},
    "/api/v1/users": {"get", "post"},
    "/api/v1/users/me": {"get"},
    "/api/v1/users/me/preferences": {"get", "put"},
    "/api/v1/users/{user_id}": {"get", "patch", "delete"},
    "/api/v1/users/{user_id}/restore": {"post"},
    "/api/v1/users/{user_id}/purge": {"delete"},
    "/api/v1/keys": {"get", "post"},
    "/api/v1/keys/{key_id}": {"delete"},
    "/api/v1/audit": {"get"},
    "/api/v1/audit/verify": {"get"},
    "/health": {"get"},
    "/health/ready": {"get"},
}


async def test_openapi_lists_every_route_with_typed_bodies(client: httpx.AsyncClient) -> None:
    spec = ok(await client.get("/openapi.json"))
    for path, methods in ROUTES.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), path
    schemas = spec["components"]["schemas"]
    for name in ("ModelCreate", "PriceSpec", "UserCreate", "ApiKeyCreate", "PreferencesUpdate"):
        assert name in schemas
    new_key = spec["paths"]["/api/v1/keys"]["post"]["responses"]["201"]["content"]
    assert new_key["application/json"]["schema"] == {"$ref": "#/components/schemas/NewApiKey"}


async def test_docs_page_is_html(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger" in response.text.lower()


async def test_the_gateway_answers_503_when_the_app_was_not_started(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    response = await client.post(
        "/v1/chat/completions", headers={"Authorization": f"Bearer {admin_key}"}, json={}
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"
