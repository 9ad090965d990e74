"""OAuth clients and signing keys over /graphql, as /api/v1/oauth answers them (admins
only): a confidential client's secret in the answer that makes it and nowhere else."""

from __future__ import annotations

import httpx

from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, assert_error, auth, make_member, ok, snapshot

CLIENT = """id clientId name description clientType secretPrefix redirectUris grantTypes scopes
  serviceUserId skipConsent enabled configVersion"""
CLIENTS = f"{{ oauthClients {{ {CLIENT} }} }}"
GET = f"query($clientId: String!) {{ oauthClient(clientId: $clientId) {{ {CLIENT} }} }}"
CREATE = f"""mutation($input: CreateOAuthClientInput!) {{
  createOAuthClient(input: $input) {{ clientSecret client {{ {CLIENT} }} }}
}}"""
UPDATE = f"""mutation($clientId: String!, $input: UpdateOAuthClientInput!) {{
  updateOAuthClient(clientId: $clientId, input: $input) {{ {CLIENT} }}
}}"""
DELETE = "mutation($clientId: String!) { deleteOAuthClient(clientId: $clientId) }"
ROTATE = """mutation($clientId: String!) {
  rotateOAuthClientSecret(clientId: $clientId) { clientSecret client { secretPrefix } }
}"""
KEYS = "{ signingKeys { kid alg createdAt retiredAt expiresAt signing published publicJwk } }"
ROTATE_KEY = "mutation { rotateSigningKey { kid alg signing published publicJwk retiredAt } }"
SERVER = {
    "clientId": "billing-server",
    "name": "Billing server",
    "clientType": "CONFIDENTIAL",
    "redirectUris": ["https://billing.example.com/callback"],
    "grantTypes": ["AUTHORIZATION_CODE", "REFRESH_TOKEN"],
    "scopes": ["openid", "models.read"],
}
DESKTOP = {
    "clientId": "desk",
    "name": "Desktop",
    "clientType": "PUBLIC",
    "redirectUris": ["http://127.0.0.1/callback"],
    "scopes": ["openid"],
}


async def _trail(client: httpx.AsyncClient, admin_key: str, entity_id: str) -> list[str]:
    params = {"entity_id": entity_id, "limit": 500}
    events = ok(await client.get(f"{API}/audit", headers=auth(admin_key), params=params))
    return [e["action"] for e in reversed(events["items"])]


async def test_an_admin_manages_clients_and_sees_the_secret_once(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    made = (await data(client, admin_key, CREATE, {"input": SERVER}))["createOAuthClient"]
    secret, server = made["clientSecret"], made["client"]
    assert secret.startswith(server["secretPrefix"])
    assert server == {
        **server,
        "clientId": "billing-server",
        "clientType": "CONFIDENTIAL",
        "grantTypes": ["AUTHORIZATION_CODE", "REFRESH_TOKEN"],
        "skipConsent": False,
        "enabled": True,
        "serviceUserId": None,
    }
    public = (await data(client, admin_key, CREATE, {"input": DESKTOP}))["createOAuthClient"]
    assert public["clientSecret"] is None
    assert public["client"]["grantTypes"] == ["AUTHORIZATION_CODE"]

    listed = (await data(client, admin_key, CLIENTS))["oauthClients"]
    assert [c["clientId"] for c in listed] == ["billing-server", "desk"]
    rest = ok(await client.get(f"{API}/oauth/clients", headers=auth(admin_key)))
    assert [c["id"] for c in rest] == [c["id"] for c in listed]
    one = (await data(client, admin_key, GET, {"clientId": "billing-server"}))["oauthClient"]
    assert one == server

    changes = {"name": "Billing", "enabled": False, "grantTypes": ["AUTHORIZATION_CODE"]}
    changed = await data(
        client, admin_key, UPDATE, {"clientId": "billing-server", "input": changes}
    )
    assert changed["updateOAuthClient"] == {
        **server,
        **changes,
        "configVersion": server["configVersion"] + 1,
    }
    rest_one = ok(await client.get(f"{API}/oauth/clients/billing-server", headers=auth(admin_key)))
    assert (rest_one["name"], rest_one["enabled"]) == ("Billing", False)

    rotated = await data(client, admin_key, ROTATE, {"clientId": "billing-server"})
    new_secret = rotated["rotateOAuthClientSecret"]["clientSecret"]
    assert new_secret != secret
    assert new_secret.startswith(rotated["rotateOAuthClientSecret"]["client"]["secretPrefix"])
    found = await error(client, admin_key, ROTATE, {"clientId": "desk"}, code="CLIENT_PUBLIC")
    assert found["extensions"]["status"] == 409

    answers = [
        listed,
        one,
        changed,
        rest,
        (await client.get(f"{API}/audit", headers=auth(admin_key))).text,
    ]
    for answer in answers:
        assert secret not in str(answer)
        assert new_secret not in str(answer)

    deleted = await data(client, admin_key, DELETE, {"clientId": "billing-server"})
    assert deleted["deleteOAuthClient"] == server["id"]
    missing = await error(
        client, admin_key, GET, {"clientId": "billing-server"}, code="OAUTH_CLIENT_NOT_FOUND"
    )
    assert missing["extensions"]["status"] == 404
    rest_missing = await client.get(f"{API}/oauth/clients/billing-server", headers=auth(admin_key))
    assert_error(rest_missing, 404, "OAUTH_CLIENT_NOT_FOUND")
    assert await _trail(client, admin_key, server["id"]) == [
        "oauth_client.create",
        "oauth_client.update",
        "oauth_client.rotate_secret",
        "oauth_client.delete",
    ]


async def test_bad_clients_are_refused_as_rest_refuses_them(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    await data(client, admin_key, CREATE, {"input": DESKTOP})
    before = await snapshot(client, admin_key, f"{API}/oauth/clients")
    for changes, path in (
        ({"clientId": "Not A Slug"}, "clientId"),
        ({"redirectUris": ["http://example.com/cb"]}, "redirectUris"),
        ({"scopes": ["root"]}, "scopes"),
        ({"name": ""}, "name"),
    ):
        body = {**DESKTOP, "clientId": "other", **changes}
        found = await error(client, admin_key, CREATE, {"input": body}, code="VALIDATION_FAILED")
        assert found["extensions"]["status"] == 422
        assert found["extensions"]["details"]["errors"][0]["path"].startswith(path), found
    rest = await client.post(
        f"{API}/oauth/clients",
        headers=auth(admin_key),
        json={"client_id": "other", "name": "x", "client_type": "public", "scopes": ["root"]},
    )
    assert_error(rest, 422, "VALIDATION_FAILED")
    taken = await error(client, admin_key, CREATE, {"input": DESKTOP}, code="CLIENT_ID_TAKEN")
    rest = await client.post(
        f"{API}/oauth/clients",
        headers=auth(admin_key),
        json={
            "client_id": "desk",
            "name": "x",
            "client_type": "public",
            "scopes": ["openid"],
            "redirect_uris": ["http://127.0.0.1/callback"],
        },
    )
    assert_error(rest, taken["extensions"]["status"], "CLIENT_ID_TAKEN")
    null_name = {"clientId": "desk", "input": {"name": None}}
    await error(client, admin_key, UPDATE, null_name, code="VALIDATION_FAILED")
    for document in (GET, DELETE, ROTATE):
        await error(
            client, admin_key, document, {"clientId": "nobody"}, code="OAUTH_CLIENT_NOT_FOUND"
        )
    assert await snapshot(client, admin_key, f"{API}/oauth/clients") == before


async def test_signing_keys_list_and_rotate(client: httpx.AsyncClient, admin_key: str) -> None:
    first = (await data(client, admin_key, ROTATE_KEY))["rotateSigningKey"]
    assert (first["alg"], first["signing"], first["published"], first["retiredAt"]) == (
        "RS256",
        True,
        True,
        None,
    )
    assert set(first["publicJwk"]) >= {"kty", "n", "e", "kid"}
    assert "d" not in first["publicJwk"]
    second = (await data(client, admin_key, ROTATE_KEY))["rotateSigningKey"]
    keys = (await data(client, admin_key, KEYS))["signingKeys"]
    assert [k["kid"] for k in keys][:2] == [second["kid"], first["kid"]]
    assert [k["signing"] for k in keys][:2] == [True, False]
    assert keys[1]["retiredAt"] is not None
    private = {"d", "p", "q", "dp", "dq", "qi"}  # an RSA key's private members
    assert all(not private & set(k["publicJwk"]) for k in keys)
    rest = ok(await client.get(f"{API}/oauth/signing-keys", headers=auth(admin_key)))
    assert [k["kid"] for k in rest] == [k["kid"] for k in keys]
    jwks = ok(await client.get("/oauth/jwks"))
    assert second["kid"] in [k["kid"] for k in jwks["keys"]]
    assert await _trail(client, admin_key, second["kid"]) == ["oauth_signing_key.rotate"]


async def test_a_member_may_not_touch_apps_or_signing_keys(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    await data(client, admin_key, CREATE, {"input": SERVER})
    member = await make_member(client, admin_key)
    paths = [f"{API}/oauth/clients", f"{API}/oauth/signing-keys"]
    before = await snapshot(client, admin_key, *paths)
    for document, variables in (
        (CLIENTS, None),
        (GET, {"clientId": "billing-server"}),
        (CREATE, {"input": DESKTOP}),
        (UPDATE, {"clientId": "billing-server", "input": {"enabled": False}}),
        (DELETE, {"clientId": "billing-server"}),
        (ROTATE, {"clientId": "billing-server"}),
        (KEYS, None),
        (ROTATE_KEY, None),
    ):
        found = await error(client, member.key, document, variables, code="FORBIDDEN")
        assert found["extensions"]["status"] == 403
    assert_error(await client.get(paths[0], headers=member.headers), 403, "FORBIDDEN")
    assert await snapshot(client, admin_key, *paths) == before


async def test_without_a_credential_nothing_runs(client: httpx.AsyncClient, admin_key: str) -> None:
    await data(client, admin_key, CREATE, {"input": SERVER})
    paths = [f"{API}/oauth/clients", f"{API}/oauth/signing-keys"]
    before = await snapshot(client, admin_key, *paths)
    for document, variables in (
        (CLIENTS, None),
        (GET, {"clientId": "billing-server"}),
        (CREATE, {"input": DESKTOP}),
        (UPDATE, {"clientId": "billing-server", "input": {"enabled": False}}),
        (DELETE, {"clientId": "billing-server"}),
        (ROTATE, {"clientId": "billing-server"}),
        (KEYS, None),
        (ROTATE_KEY, None),
    ):
        answer = await gql(client, None, document, variables)
        assert answer.status_code == 401, answer.text
        assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await snapshot(client, admin_key, *paths) == before
