"""Seed 001's systemSettings and updateSystemSetting, over the same service as REST."""

from __future__ import annotations

import httpx

from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, auth, make_member, ok

LIST = "{ systemSettings { key value default isSet help } }"
UPDATE = """mutation($key: String!, $value: JSON) {
  updateSystemSetting(key: $key, value: $value) { key value isSet }
}"""


async def test_admin_reads_and_changes_a_setting(client: httpx.AsyncClient, admin_key: str) -> None:
    settings = (await data(client, admin_key, LIST))["systemSettings"]
    policy = next(s for s in settings if s["key"] == "models.deprecated_policy")
    assert policy == {**policy, "value": "warn", "default": "warn", "isSet": False}
    changed = await data(
        client, admin_key, UPDATE, {"key": "models.deprecated_policy", "value": "reject"}
    )
    assert changed["updateSystemSetting"] == {
        "key": "models.deprecated_policy",
        "value": "reject",
        "isSet": True,
    }
    rest = ok(await client.get(f"{API}/settings/models.deprecated_policy", headers=auth(admin_key)))
    assert rest["value"] == "reject"
    events = ok(await client.get(f"{API}/audit", headers=auth(admin_key)))["items"]
    assert any(e["entity_id"] == "models.deprecated_policy" for e in events)


async def test_a_bad_value_names_the_rule_and_changes_nothing(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    found = await error(
        client,
        admin_key,
        UPDATE,
        {"key": "models.deprecated_policy", "value": "sometimes"},
        code="VALIDATION_FAILED",
    )
    assert found["path"] == ["updateSystemSetting"]
    assert found["extensions"]["status"] == 422
    settings = (await data(client, admin_key, LIST))["systemSettings"]
    assert next(s for s in settings if s["key"] == "models.deprecated_policy")["isSet"] is False


async def test_a_member_reads_but_may_not_change(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    assert (await data(client, member.key, LIST))["systemSettings"]
    await error(
        client,
        member.key,
        UPDATE,
        {"key": "models.deprecated_policy", "value": "reject"},
        code="FORBIDDEN",
    )


async def test_without_a_credential_nothing_runs(client: httpx.AsyncClient) -> None:
    response = await gql(client, None, LIST)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad = await gql(client, "myk_not-a-real-key", LIST)
    assert bad.status_code == 401


async def test_a_nul_in_an_argument_or_a_variable_is_refused_before_running(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    literal = await error(
        client,
        admin_key,
        '{ systemSetting(key: "models.\\u0000policy") { key } }',
        code="VALIDATION_FAILED",
        status=400,
    )
    assert literal["extensions"]["details"]["errors"][0]["path"] == "key"
    variable = await error(
        client,
        admin_key,
        UPDATE,
        {"key": "custom.x", "value": {"a": "b\u0000"}},
        code="VALIDATION_FAILED",
        status=400,
    )
    assert variable["extensions"]["details"]["errors"][0]["path"] == "$value"
    settings = (await data(client, admin_key, LIST))["systemSettings"]
    assert not any(s["key"] == "custom.x" for s in settings)
