"""Who may ask /graphql: an API key or an OAuth access token, each held to its scopes field
by field; revoked, expired and suspended credentials refused before anything runs; the
database out of reach answered 503 (or, mid-document, at the field) with no driver text;
no secret from a document in the logs."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from modelyard.api.app import create_app
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.graphql import rig
from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, assert_error, auth, make_member, ok
from tests.support.oauth_rows import mint, revoke

SETTINGS = "{ systemSettings { key } }"
SET = """mutation { updateSystemSetting(key: "models.deprecated_policy", value: "reject") {
  key value } }"""


async def refused_401(client: httpx.AsyncClient, credential: str) -> None:
    response = await gql(client, credential, "{ __typename }")
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in response.json()


async def me(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(await client.get(f"{API}/users/me", headers=auth(key)))
    return found


async def test_an_oauth_access_token_is_held_to_its_scopes(
    client: httpx.AsyncClient, admin_key: str, registry: Registry
) -> None:
    admin = await me(client, admin_key)
    reader = await mint(registry, admin["id"], ("registry.read",))
    assert (await data(client, reader, SETTINGS))["systemSettings"]
    found = await error(client, reader, SET, code="INSUFFICIENT_SCOPE")
    assert found["extensions"]["status"] == 403
    assert found["path"] == ["updateSystemSetting"]
    assert "registry.write" in found["message"]
    app_token = await mint(registry, admin["id"])  # llm.inference, models.read
    assert (await data(client, app_token, "{ __typename }")) == {"__typename": "Query"}
    await error(client, app_token, SETTINGS, code="INSUFFICIENT_SCOPE")
    rest = await client.get(f"{API}/settings", headers=auth(app_token))
    assert_error(rest, 403, "INSUFFICIENT_SCOPE")  # the same refusal as REST's


async def test_a_narrow_key_fails_only_the_fields_it_may_not_ask(
    client: httpx.AsyncClient, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = await make_member(client, admin_key, role="admin", scopes=["registry.read"])
    with rig.serving(monkeypatch):
        response = await gql(client, reader.key, "{ written root { name } again: written }")
        assert response.status_code == 200
        body = response.json()
        assert body["data"] == {"written": None, "root": {"name": "node 1"}, "again": None}
        assert sorted(e["path"][0] for e in body["errors"]) == ["again", "written"]
        for entry in body["errors"]:
            assert entry["extensions"]["code"] == "INSUFFICIENT_SCOPE"
            assert entry["extensions"]["status"] == 403
        full = await data(client, admin_key, "{ written root { name } }")
        assert full["written"].startswith("user:")
    await error(client, reader.key, SET, code="INSUFFICIENT_SCOPE")
    rest = await client.put(
        f"{API}/settings/models.deprecated_policy", json={"value": "reject"}, headers=reader.headers
    )
    assert_error(rest, 403, "INSUFFICIENT_SCOPE")
    check = await data(
        client, admin_key, '{ systemSetting(key: "models.deprecated_policy") { isSet } }'
    )
    assert check == {"systemSetting": {"isSet": False}}


async def test_revoked_expired_and_suspended_credentials_are_refused(
    client: httpx.AsyncClient, admin_key: str, registry: Registry
) -> None:
    member = await make_member(client, admin_key)
    token = await mint(registry, member.id)
    assert (await data(client, member.key, "{ __typename }")) == {"__typename": "Query"}
    assert (await data(client, token, "{ __typename }")) == {"__typename": "Query"}

    suspend = {"status": "suspended"}
    ok(await client.patch(f"{API}/users/{member.id}", json=suspend, headers=auth(admin_key)))
    await refused_401(client, member.key)
    await refused_401(client, token)
    restore = {"status": "active"}
    ok(await client.patch(f"{API}/users/{member.id}", json=restore, headers=auth(admin_key)))
    assert (await data(client, token, "{ __typename }")) == {"__typename": "Query"}

    await revoke(registry, token)
    await refused_401(client, token)
    await refused_401(client, await mint(registry, member.id, ttl_s=-60))
    keys = ok(await client.get(f"{API}/keys", headers=member.headers))
    ok(await client.delete(f"{API}/keys/{keys[0]['id']}", headers=member.headers))
    await refused_401(client, member.key)
    for credential in ("myk_" + "x" * 43, "myat_" + "x" * 43, "not-a-credential"):
        await refused_401(client, credential)
    basic = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": "Basic eDp5"}
    )
    assert basic.status_code == 401


@pytest.fixture
def down(settings: Settings, admin_key: str, tmp_path: object) -> Settings:
    """The same server's settings with its database gone."""
    if settings.is_sqlite:
        broken = f"sqlite+aiosqlite:///{tmp_path}/gone/modelyard.db"
    else:
        broken = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
    return settings.model_copy(update={"database_url": broken})


async def test_the_database_down_is_a_503_with_no_driver_text(
    down: Settings, admin_key: str
) -> None:
    registry = Registry.open(down)
    try:
        transport = httpx.ASGITransport(app=create_app(down, registry=registry))
        async with httpx.AsyncClient(transport=transport, base_url="http://modelyard.test") as c:
            reply = await gql(c, admin_key, SETTINGS)
    finally:
        await registry.close()
    assert reply.status_code == 503, reply.text
    assert int(reply.headers["retry-after"]) >= 1
    entry = reply.json()["errors"][0]
    assert entry["extensions"]["code"] == "DEPENDENCY_UNAVAILABLE"
    assert entry["extensions"]["details"] == {"dependency": "database"}
    assert "127.0.0.1" not in reply.text
    assert "gone" not in reply.text


async def test_the_database_lost_mid_document_fails_that_field_only(
    client: httpx.AsyncClient,
    admin_key: str,
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def lost(*args: object, **kwargs: object) -> object:
        raise ConnectionRefusedError("connect to 10.9.8.7:5432 as modelyard password=hunter2")

    monkeypatch.setattr(registry.settings, "list", lost)
    with caplog.at_level(logging.DEBUG):
        response = await gql(client, admin_key, "{ systemSettings { key } }")
    assert response.status_code == 200, response.text
    entry = response.json()["errors"][0]
    assert entry["path"] == ["systemSettings"]
    assert entry["extensions"]["code"] == "DEPENDENCY_UNAVAILABLE"
    assert entry["extensions"]["status"] == 503
    for leaked in ("10.9.8.7", "hunter2"):
        assert leaked not in response.text
        assert leaked not in caplog.text


async def test_a_secret_in_a_failing_document_is_not_logged(
    client: httpx.AsyncClient, admin_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-live-0123456789abcdefSECRET"
    document = f"""mutation {{
  updateSystemSetting(key: "models.deprecated_policy", value: "{secret}") {{ key }}
}}"""
    with caplog.at_level(logging.DEBUG):
        await error(client, admin_key, document, code="VALIDATION_FAILED")
        await gql(client, admin_key, f'{{ systemSetting(key: "{secret}" {{ key }} }}')
        await gql(client, admin_key, f'{{ nothing(key: "{secret}") }}')
    assert caplog.records  # the failures were logged ...
    assert secret not in caplog.text  # ... without the document's text
