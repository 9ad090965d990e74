"""Providers through /graphql as REST has them: provider, providers (a connection with
REST's filters), createProvider, updateProvider, deleteProvider, rotateProviderKey,
enableProvider, disableProvider, setDefaultProvider and activateProvider."""

from __future__ import annotations

import httpx

from tests.api.graphql.catalog_support import (
    PUBLIC_URL,
    UPSTREAM_KEY,
    audit_actions,
    own_provider,
    rest_state,
)
from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, auth, make_member, make_provider, ok

FIELDS = """id scope ownerUserId kind name displayName description baseUrl apiKey hasApiKey
  organization customHeaders config timeoutMs maxParallel rpmLimit tpmLimit weight enabled
  isDefault isActive configVersion createdAt updatedAt"""
ONE = f"query($id: ID!) {{ provider(id: $id) {{ {FIELDS} }} }}"
PAGE = """query($first: Int, $after: String, $owner: ProviderOwner, $enabled: Boolean) {
  providers(first: $first, after: $after, owner: $owner, enabled: $enabled) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id name }
  }
}"""
CREATE = (
    f"mutation($input: CreateProviderInput!) {{ createProvider(input: $input) {{ {FIELDS} }} }}"
)
UPDATE = f"""mutation($id: ID!, $input: UpdateProviderInput!) {{
  updateProvider(id: $id, input: $input) {{ {FIELDS} }}
}}"""
DELETE = "mutation($id: ID!) { deleteProvider(id: $id) }"
ROTATE = f"""mutation($id: ID!, $apiKey: String) {{
  rotateProviderKey(id: $id, apiKey: $apiKey) {{ {FIELDS} }}
}}"""
VERB = "mutation($id: ID!) {{ {verb}(id: $id) {{ id enabled isDefault isActive }} }}"

SNAKE = {
    "ownerUserId": "owner_user_id",
    "displayName": "display_name",
    "baseUrl": "base_url",
    "apiKey": "api_key",
    "hasApiKey": "has_api_key",
    "customHeaders": "custom_headers",
    "timeoutMs": "timeout_ms",
    "maxParallel": "max_parallel",
    "rpmLimit": "rpm_limit",
    "tpmLimit": "tpm_limit",
    "isDefault": "is_default",
    "isActive": "is_active",
    "configVersion": "config_version",
}
TIMES = ("createdAt", "updatedAt")


def same_as_rest(got: dict[str, object], rest: dict[str, object]) -> None:
    for name, value in got.items():
        if name not in TIMES:
            assert value == rest[SNAKE.get(name, name)], name


async def test_provider_answers_what_rest_answers(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    made = await make_provider(
        client, admin_key, "openai", custom_headers={"x-team": "a"}, rpm_limit=60
    )
    got = (await data(client, admin_key, ONE, {"id": made["id"]}))["provider"]
    rest = ok(await client.get(f"{API}/providers/{made['id']}", headers=auth(admin_key)))
    same_as_rest(got, rest)
    assert got["customHeaders"] == {"x-team": "a"}
    assert UPSTREAM_KEY not in str(got)
    missing = await error(client, admin_key, ONE, {"id": "nope"}, code="PROVIDER_NOT_FOUND")
    assert missing["extensions"]["status"] == 404


async def test_providers_pages_with_rests_filters(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    for name in ("a", "b", "c"):
        await make_provider(client, admin_key, name)
    await make_provider(client, admin_key, "d", enabled=False, api_key=None)
    first = (await data(client, admin_key, PAGE, {"first": 2}))["providers"]
    assert first["totalCount"] == 4
    assert [n["name"] for n in first["nodes"]] == ["a", "b"]
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    second = (await data(client, admin_key, PAGE, {"first": 2, "after": after}))["providers"]
    assert [n["name"] for n in second["nodes"]] == ["c", "d"]
    assert second["pageInfo"]["hasNextPage"] is False
    off = (await data(client, admin_key, PAGE, {"enabled": False}))["providers"]
    assert [n["name"] for n in off["nodes"]] == ["d"]
    rest = ok(
        await client.get(f"{API}/providers", params={"enabled": "false"}, headers=auth(admin_key))
    )
    assert [n["id"] for n in off["nodes"]] == [p["id"] for p in rest["items"]]
    bad = await error(client, admin_key, PAGE, {"first": 0}, code="VALIDATION_FAILED")
    assert bad["extensions"]["details"]["errors"][0]["path"] == "first"


async def test_create_update_rotate_and_delete(client: httpx.AsyncClient, admin_key: str) -> None:
    spec = {
        "name": "openai",
        "kind": "openai",
        "apiKey": "sk-live-secretsecretsecret",
        "customHeaders": {"x-team": "blue"},
        "timeoutMs": 30000,
        "isDefault": True,
    }
    created = (await data(client, admin_key, CREATE, {"input": spec}))["createProvider"]
    assert created["hasApiKey"] is True
    assert created["isDefault"] is True
    assert "secretsecret" not in str(created)
    assert created["timeoutMs"] == 30000
    pid = created["id"]
    rest = ok(await client.get(f"{API}/providers/{pid}", headers=auth(admin_key)))
    same_as_rest(created, rest)
    changed = await data(
        client, admin_key, UPDATE, {"id": pid, "input": {"displayName": "OpenAI", "weight": 3}}
    )
    assert changed["updateProvider"]["displayName"] == "OpenAI"
    assert changed["updateProvider"]["weight"] == 3
    rotated = await data(client, admin_key, ROTATE, {"id": pid, "apiKey": "sk-new-0987654321zz"})
    assert "0987654321" not in str(rotated)
    assert rotated["rotateProviderKey"]["apiKey"] != created["apiKey"]
    unsaid = "mutation($id: ID!) { rotateProviderKey(id: $id) { id } }"
    found = await error(client, admin_key, unsaid, {"id": pid}, code="VALIDATION_FAILED")
    assert found["extensions"]["details"]["errors"][0]["path"] == "apiKey"
    required = await error(
        client, admin_key, ROTATE, {"id": pid, "apiKey": None}, code="VALIDATION_FAILED"
    )
    assert required["extensions"]["details"]["errors"][0]["path"] == "apiKey"  # openai needs one
    still = ok(await client.get(f"{API}/providers/{pid}", headers=auth(admin_key)))
    assert still["has_api_key"] is True
    assert still["api_key"] == rotated["rotateProviderKey"]["apiKey"]
    assert (await data(client, admin_key, DELETE, {"id": pid}))["deleteProvider"] == pid
    gone = await client.get(f"{API}/providers/{pid}", headers=auth(admin_key))
    assert gone.status_code == 404
    assert await audit_actions(client, admin_key, pid) == [
        "provider.create",
        "provider.update",
        "provider.rotate_key",
        "provider.delete",
    ]


async def test_bad_input_is_named_in_camel_case_and_changes_nothing(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    made = await make_provider(client, admin_key)
    before = await rest_state(client, admin_key)
    spec = {"name": "Bad Name!", "kind": "openai", "timeoutMs": 5, "rpmLimit": 0}
    found = await error(client, admin_key, CREATE, {"input": spec}, code="VALIDATION_FAILED")
    paths = {e["path"] for e in found["extensions"]["details"]["errors"]}
    assert paths == {"name", "timeoutMs", "rpmLimit"}
    update = {"id": made["id"], "input": {"maxParallel": 0, "displayName": None}}
    found = await error(client, admin_key, UPDATE, update, code="VALIDATION_FAILED")
    paths = {e["path"] for e in found["extensions"]["details"]["errors"]}
    assert paths <= {"maxParallel", "displayName"}
    assert "maxParallel" in paths or "displayName" in paths
    taken = {"name": made["name"], "kind": "openai", "apiKey": "sk-test-another-123456"}
    conflict = await error(client, admin_key, CREATE, {"input": taken}, code="NAME_TAKEN")
    assert conflict["extensions"]["status"] == 409
    assert await rest_state(client, admin_key) == before


async def test_enable_disable_default_and_activate(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    one = await make_provider(client, admin_key, "one")
    two = await make_provider(client, admin_key, "two")

    async def verb(name: str, pid: str) -> dict[str, object]:
        found: dict[str, object] = (
            await data(client, admin_key, VERB.format(verb=name), {"id": pid})
        )[name]
        return found

    assert (await verb("activateProvider", one["id"]))["isActive"] is True
    assert (await verb("activateProvider", two["id"]))["isActive"] is True
    refused = await error(
        client,
        admin_key,
        VERB.format(verb="disableProvider"),
        {"id": two["id"]},
        code="PROVIDER_IS_ACTIVE",
    )
    assert refused["extensions"]["status"] == 409
    assert (await verb("disableProvider", one["id"]))["enabled"] is False
    assert (await verb("enableProvider", one["id"]))["enabled"] is True
    assert (await verb("setDefaultProvider", one["id"]))["isDefault"] is True
    rest = ok(await client.get(f"{API}/providers/{one['id']}", headers=auth(admin_key)))
    assert rest["is_default"] is True
    assert rest["is_active"] is False
    assert await audit_actions(client, admin_key, one["id"]) == [
        "provider.create",
        "provider.activate",
        "provider.deactivate",
        "provider.disable",
        "provider.enable",
        "provider.set_default",
    ]


async def test_a_member_cannot_touch_another_users_provider(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    alice = await make_member(client, admin_key)
    bob = await make_member(client, admin_key)
    bobs = await own_provider(client, bob, "bobs")
    before = await rest_state(client, admin_key)
    pid = bobs["id"]
    await error(client, alice.key, ONE, {"id": pid}, code="PROVIDER_NOT_FOUND")
    for query, variables in (
        (UPDATE, {"id": pid, "input": {"displayName": "mine"}}),
        (DELETE, {"id": pid}),
        (ROTATE, {"id": pid, "apiKey": "sk-stolen-0123456789"}),
        *(
            (VERB.format(verb=v), {"id": pid})
            for v in ("enableProvider", "disableProvider", "setDefaultProvider", "activateProvider")
        ),
    ):
        found = await error(client, alice.key, query, variables, code="PROVIDER_NOT_FOUND")
        assert found["extensions"]["status"] == 404
    assert (await client.get(f"{API}/providers/{pid}", headers=alice.headers)).status_code == 404
    page = (await data(client, alice.key, PAGE))["providers"]
    assert pid not in {n["id"] for n in page["nodes"]}
    assert await rest_state(client, admin_key) == before
    # her own she manages; system providers she may not create or change
    mine = {"name": "alices", "kind": "ollama", "baseUrl": PUBLIC_URL}
    created = (await data(client, alice.key, CREATE, {"input": mine}))["createProvider"]
    assert created["scope"] == "user"
    assert created["ownerUserId"] == alice.id
    system = {"name": "sys", "kind": "ollama", "baseUrl": PUBLIC_URL, "owner": "system"}
    await error(client, alice.key, CREATE, {"input": system}, code="FORBIDDEN")


async def test_reads_need_registry_read_and_a_credential(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    made = await make_provider(client, admin_key)
    narrow = await make_member(client, admin_key, scopes=["models.read"])
    for query, variables in ((ONE, {"id": made["id"]}), (PAGE, {})):
        found = await error(client, narrow.key, query, variables, code="INSUFFICIENT_SCOPE")
        assert found["extensions"]["status"] == 403
        assert (await gql(client, None, query, variables)).status_code == 401
    before = await rest_state(client, admin_key)
    found = await error(client, narrow.key, DELETE, {"id": made["id"]}, code="INSUFFICIENT_SCOPE")
    assert found["extensions"]["status"] == 403
    assert (await gql(client, None, DELETE, {"id": made["id"]})).status_code == 401
    assert await rest_state(client, admin_key) == before
