"""API keys and preferences over /graphql: apiKeys, createApiKey (the plaintext once),
revokeApiKey, myPreferences, updateMyPreferences, as /api/v1/keys and
/api/v1/users/me/preferences answer them."""

from __future__ import annotations

import httpx

from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, auth, make_member, make_model, make_provider, ok, snapshot

KEY = "id userId name prefix scopes rpmLimit tpmLimit expiresAt revokedAt lastUsedAt"
KEYS = f"query($userId: ID) {{ apiKeys(userId: $userId) {{ {KEY} }} }}"
CREATE = f"""mutation($input: CreateApiKeyInput!) {{
  createApiKey(input: $input) {{ key apiKey {{ {KEY} }} }}
}}"""
REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }"
ME = "{ me { id email } }"
PREFS = "{ myPreferences { userId defaultModelId temperature streaming updatedAt } }"
UPDATE_PREFS = """mutation($input: UpdatePreferencesInput!) {
  updateMyPreferences(input: $input) { userId defaultModelId temperature streaming }
}"""


async def _audit(client: httpx.AsyncClient, admin_key: str) -> str:
    """The whole audit trail as REST answers it, as text."""
    response = await client.get(f"{API}/audit", headers=auth(admin_key), params={"limit": 500})
    assert response.status_code == 200
    return response.text


async def _keys(client: httpx.AsyncClient, admin_key: str, *user_ids: str) -> list[object]:
    """Each user's keys through REST (without last_used_at, which using a key moves)."""
    found: list[object] = []
    for user_id in user_ids:
        params = {"user_id": user_id}
        keys = ok(await client.get(f"{API}/keys", headers=auth(admin_key), params=params))
        found.append([{k: v for k, v in key.items() if k != "last_used_at"} for key in keys])
    return found


async def test_a_new_key_is_shown_once_works_and_can_be_revoked(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    body = {"name": "ci", "scopes": ["registry.read", "user.info"], "userId": member.id}
    created = (await data(client, admin_key, CREATE, {"input": body}))["createApiKey"]
    plaintext, key = created["key"], created["apiKey"]
    assert plaintext.startswith(key["prefix"])
    assert key == {
        **key,
        "userId": member.id,
        "name": "ci",
        "scopes": ["registry.read", "user.info"],
        "revokedAt": None,
    }
    assert (await data(client, plaintext, ME))["me"]["id"] == member.id

    listed = (await data(client, admin_key, KEYS, {"userId": member.id}))["apiKeys"]
    assert [k["id"] for k in listed][-1] == key["id"]
    rest = ok(
        await client.get(f"{API}/keys", headers=auth(admin_key), params={"user_id": member.id})
    )
    assert [k["id"] for k in rest] == [k["id"] for k in listed]
    mine = (await data(client, plaintext, KEYS))["apiKeys"]
    assert [k["id"] for k in mine] == [k["id"] for k in listed]
    for answer in (listed, mine, rest, await _audit(client, admin_key)):
        assert plaintext not in str(answer)

    revoked = (await data(client, admin_key, REVOKE, {"id": key["id"]}))["revokeApiKey"]
    assert revoked["id"] == key["id"]
    assert revoked["revokedAt"] is not None
    assert (await gql(client, plaintext, ME)).status_code == 401
    again = await error(client, admin_key, REVOKE, {"id": key["id"]}, code="KEY_REVOKED")
    assert again["extensions"]["status"] == 409
    trail = ok(
        await client.get(f"{API}/audit", headers=auth(admin_key), params={"entity_id": key["id"]})
    )
    assert [e["action"] for e in reversed(trail["items"])] == ["api_key.create", "api_key.revoke"]
    assert plaintext not in await _audit(client, admin_key)


async def test_a_member_makes_keys_only_within_their_own_scopes(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(
        client, admin_key, scopes=["registry.read", "registry.write", "models.read"]
    )
    other = await make_member(client, admin_key)
    before = await _keys(client, admin_key, member.id, other.id)
    wider = {"name": "wider", "scopes": ["registry.read", "llm.inference"]}
    found = await error(client, member.key, CREATE, {"input": wider}, code="FORBIDDEN")
    assert found["extensions"]["status"] == 403
    assert "llm.inference" in found["message"]
    rest = await client.post(f"{API}/keys", headers=member.headers, json=wider)
    assert rest.status_code == 403
    assert rest.json()["error"]["code"] == "FORBIDDEN"
    theirs = {"name": "theirs", "userId": other.id, "scopes": ["models.read"]}
    await error(client, member.key, CREATE, {"input": theirs}, code="FORBIDDEN")
    await error(client, member.key, KEYS, {"userId": other.id}, code="FORBIDDEN")
    other_key = (await data(client, other.key, KEYS))["apiKeys"][0]["id"]
    found = await error(client, member.key, REVOKE, {"id": other_key}, code="API_KEY_NOT_FOUND")
    assert found["extensions"]["status"] == 404
    assert await _keys(client, admin_key, member.id, other.id) == before
    assert (await gql(client, other.key, ME)).status_code == 200

    narrower = {"name": "reader", "scopes": ["models.read"]}
    created = (await data(client, member.key, CREATE, {"input": narrower}))["createApiKey"]
    assert created["apiKey"]["userId"] == member.id
    assert created["apiKey"]["scopes"] == ["models.read"]
    mine = (await data(client, member.key, KEYS))["apiKeys"]
    assert created["apiKey"]["id"] in [k["id"] for k in mine]
    assert created["key"] not in str(mine)


async def test_bad_key_input_is_refused_and_names_the_field(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    admin_id = (await data(client, admin_key, ME))["me"]["id"]
    before = await _keys(client, admin_key, admin_id)
    for body, path in (
        ({"name": ""}, "name"),
        ({"name": "x", "scopes": ["root"]}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "rpmLimit": -1}, "rpmLimit"),
        ({"name": "x", "expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
    ):
        found = await error(client, admin_key, CREATE, {"input": body}, code="VALIDATION_FAILED")
        assert found["extensions"]["status"] == 422
        assert found["extensions"]["details"]["errors"][0]["path"] == path, found
    missing = {"name": "x", "userId": "8d0d5b55-0000-4000-8000-000000000000"}
    await error(client, admin_key, CREATE, {"input": missing}, code="USER_NOT_FOUND")
    await error(client, admin_key, REVOKE, {"id": "nope"}, code="API_KEY_NOT_FOUND")
    assert await _keys(client, admin_key, admin_id) == before


async def test_preferences_are_each_users_own(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    other = await make_member(client, admin_key)
    initial = (await data(client, member.key, PREFS))["myPreferences"]
    assert initial == {
        "userId": member.id,
        "defaultModelId": None,
        "temperature": None,
        "streaming": True,
        "updatedAt": None,
    }
    provider = await make_provider(client, admin_key)
    model = await make_model(client, admin_key, provider["id"])
    changes = {"temperature": "0.7", "streaming": False, "defaultModelId": model["id"]}
    updated = await data(client, member.key, UPDATE_PREFS, {"input": changes})
    assert updated["updateMyPreferences"] == {"userId": member.id, **changes}
    rest = ok(await client.get(f"{API}/users/me/preferences", headers=member.headers))
    assert (rest["temperature"], rest["streaming"], rest["default_model_id"]) == (
        "0.7",
        False,
        model["id"],
    )
    assert (await data(client, other.key, PREFS))["myPreferences"]["temperature"] is None
    cleared = await data(client, member.key, UPDATE_PREFS, {"input": {"temperature": None}})
    assert cleared["updateMyPreferences"]["temperature"] is None
    trail = ok(
        await client.get(
            f"{API}/audit",
            headers=auth(admin_key),
            params={"entity_id": member.id, "action": "preferences.update"},
        )
    )
    assert len(trail["items"]) == 2

    before = await snapshot(client, member.key, f"{API}/users/me/preferences")
    for body, path in (
        ({"temperature": "2.5"}, "temperature"),
        ({"streaming": None}, "streaming"),
        ({"defaultModelId": "not-a-uuid"}, "defaultModelId"),
    ):
        found = await error(
            client, member.key, UPDATE_PREFS, {"input": body}, code="VALIDATION_FAILED"
        )
        assert found["extensions"]["details"]["errors"][0]["path"] == path, found
    unknown = {"defaultModelId": "8d0d5b55-0000-4000-8000-000000000000"}
    found = await error(
        client, member.key, UPDATE_PREFS, {"input": unknown}, code="MODEL_NOT_FOUND"
    )
    rest_answer = await client.put(
        f"{API}/users/me/preferences",
        headers=member.headers,
        json={"default_model_id": unknown["defaultModelId"]},
    )
    assert rest_answer.json()["error"]["code"] == found["extensions"]["code"]
    assert rest_answer.status_code == found["extensions"]["status"]
    assert await snapshot(client, member.key, f"{API}/users/me/preferences") == before


async def test_a_read_only_key_reads_but_does_not_write(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key, scopes=["registry.read"])
    assert (await data(client, member.key, KEYS))["apiKeys"]
    assert (await data(client, member.key, PREFS))["myPreferences"]["streaming"] is True
    await error(client, member.key, CREATE, {"input": {"name": "x"}}, code="INSUFFICIENT_SCOPE")
    key_id = (await data(client, member.key, KEYS))["apiKeys"][0]["id"]
    await error(client, member.key, REVOKE, {"id": key_id}, code="INSUFFICIENT_SCOPE")
    await error(
        client, member.key, UPDATE_PREFS, {"input": {"streaming": False}}, code="INSUFFICIENT_SCOPE"
    )
    assert (await data(client, member.key, PREFS))["myPreferences"]["streaming"] is True


async def test_without_a_credential_nothing_runs(client: httpx.AsyncClient, admin_key: str) -> None:
    admin_id = (await data(client, admin_key, ME))["me"]["id"]
    key_id = (await data(client, admin_key, KEYS))["apiKeys"][0]["id"]
    before = await _keys(client, admin_key, admin_id)
    prefs = await snapshot(client, admin_key, f"{API}/users/me/preferences")
    for document, variables in (
        (KEYS, None),
        (CREATE, {"input": {"name": "anon"}}),
        (REVOKE, {"id": key_id}),
        (PREFS, None),
        (UPDATE_PREFS, {"input": {"streaming": False}}),
    ):
        answer = await gql(client, None, document, variables)
        assert answer.status_code == 401, answer.text
        assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await _keys(client, admin_key, admin_id) == before
    assert await snapshot(client, admin_key, f"{API}/users/me/preferences") == prefs
