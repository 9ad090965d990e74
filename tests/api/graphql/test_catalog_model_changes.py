"""Seed 001's model mutations through /graphql: createLlmModel (with its first price),
updateLlmModel, deprecateLlmModel and setDefaultModel; the same rules, error codes and audit
events as REST, and nothing changed when refused."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.graphql.catalog_support import audit_actions, own_provider, rest_state
from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, auth, make_member, make_model, make_provider, ok

FIELDS = """id providerId modelId displayName contextWindow maxOutputTokens capabilities
  fallbacks status isDefault configVersion
  price { inputPerMtok outputPerMtok cachedInputPerMtok creditsPer1k currency effectiveFrom }"""
CREATE = (
    f"mutation($input: CreateLlmModelInput!) {{ createLlmModel(input: $input) {{ {FIELDS} }} }}"
)
UPDATE = f"""mutation($id: ID!, $input: UpdateLlmModelInput!) {{
  updateLlmModel(id: $id, input: $input) {{ {FIELDS} }}
}}"""
DEPRECATE = f"mutation($id: ID!) {{ deprecateLlmModel(id: $id) {{ {FIELDS} }} }}"
SET_DEFAULT = f"mutation($id: ID!) {{ setDefaultModel(id: $id) {{ {FIELDS} }} }}"


def _paths(found: dict[str, Any]) -> list[str]:
    return [e["path"] for e in found["extensions"]["details"]["errors"]]


async def test_create_llm_model_with_a_price(client: httpx.AsyncClient, admin_key: str) -> None:
    provider = await make_provider(client, admin_key)
    spec = {
        "providerId": provider["id"],
        "modelId": "gpt-4o",
        "displayName": "GPT-4o",
        "contextWindow": 128000,
        "capabilities": ["vision", "text"],
        "fallbacks": ["openai/gpt-4o-mini"],
        "price": {"inputPerMtok": "2.50", "outputPerMtok": "10", "creditsPer1k": "0.5"},
    }
    created = (await data(client, admin_key, CREATE, {"input": spec}))["createLlmModel"]
    assert created["providerId"] == provider["id"]
    assert created["capabilities"] == ["text", "vision"]  # the service's order
    assert created["status"] == "ACTIVE"
    assert created["configVersion"] == 1
    assert created["price"]["inputPerMtok"] == "2.5"
    assert created["price"]["creditsPer1k"] == "0.5"
    rest = ok(await client.get(f"{API}/models/{created['id']}", headers=auth(admin_key)))
    assert rest["display_name"] == "GPT-4o"
    assert rest["context_window"] == 128000
    assert rest["price"]["input_per_mtok"] == "2.5"
    actions = await audit_actions(client, admin_key, created["id"])
    assert actions == ["model.create", "model.price_change"]


async def test_create_llm_model_names_bad_fields_in_camel_case(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key)
    before = await rest_state(client, admin_key)
    spec = {
        "providerId": provider["id"],
        "modelId": "",
        "contextWindow": 0,
        "capabilities": ["telepathy"],
        "price": {"inputPerMtok": "-1", "outputPerMtok": "1"},
    }
    found = await error(client, admin_key, CREATE, {"input": spec}, code="VALIDATION_FAILED")
    assert found["extensions"]["status"] == 422
    assert set(_paths(found)) == {
        "modelId",
        "contextWindow",
        "capabilities",
        "price.inputPerMtok",
    }
    assert "contextWindow" in found["message"]
    rest = await client.post(
        f"{API}/models",
        headers=auth(admin_key),
        json={"provider_id": provider["id"], "model_id": "", "context_window": 0},
    )
    assert rest.status_code == 422
    assert await rest_state(client, admin_key) == before
    # a float where an exact amount is wanted is refused before anything runs
    price = {"inputPerMtok": 1.5, "outputPerMtok": "1"}
    floats = {"providerId": provider["id"], "modelId": "m", "price": price}
    found = await error(
        client, admin_key, CREATE, {"input": floats}, code="GRAPHQL_VALIDATION_FAILED", status=400
    )
    assert "price.inputPerMtok" in found["message"]
    assert await rest_state(client, admin_key) == before


async def test_create_llm_model_conflicts_as_rest_does(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key)
    await make_model(client, admin_key, provider["id"], "gpt-4o")
    before = await rest_state(client, admin_key)
    spec = {"providerId": provider["id"], "modelId": "gpt-4o"}
    found = await error(client, admin_key, CREATE, {"input": spec}, code="NAME_TAKEN")
    rest = await client.post(
        f"{API}/models",
        headers=auth(admin_key),
        json={"provider_id": provider["id"], "model_id": "gpt-4o"},
    )
    assert found["extensions"]["status"] == rest.status_code == 409
    assert await rest_state(client, admin_key) == before


async def test_update_deprecate_and_default(client: httpx.AsyncClient, admin_key: str) -> None:
    provider = await make_provider(client, admin_key)
    model = await make_model(client, admin_key, provider["id"], "gpt-4o")
    other = await make_model(client, admin_key, provider["id"], "gpt-4o-mini")
    changed = await data(
        client,
        admin_key,
        UPDATE,
        {"id": model["id"], "input": {"displayName": "Four-O", "maxOutputTokens": 4096}},
    )
    assert changed["updateLlmModel"]["displayName"] == "Four-O"
    assert changed["updateLlmModel"]["maxOutputTokens"] == 4096
    assert changed["updateLlmModel"]["configVersion"] == 2
    defaulted = await data(client, admin_key, SET_DEFAULT, {"id": model["id"]})
    assert defaulted["setDefaultModel"]["isDefault"] is True
    moved = await data(client, admin_key, SET_DEFAULT, {"id": other["id"]})
    assert moved["setDefaultModel"]["isDefault"] is True
    rest = ok(await client.get(f"{API}/models/{model['id']}", headers=auth(admin_key)))
    assert rest["is_default"] is False
    assert rest["display_name"] == "Four-O"
    gone = (await data(client, admin_key, DEPRECATE, {"id": other["id"]}))["deprecateLlmModel"]
    assert gone["status"] == "DEPRECATED"
    assert gone["isDefault"] is False
    again = await error(
        client, admin_key, DEPRECATE, {"id": other["id"]}, code="MODEL_STATUS_UNCHANGED"
    )
    assert again["extensions"]["status"] == 409
    refused = await error(
        client, admin_key, SET_DEFAULT, {"id": other["id"]}, code="MODEL_DEPRECATED"
    )
    assert refused["extensions"]["status"] == 409
    assert await audit_actions(client, admin_key, model["id"]) == [
        "model.create",
        "model.update",
        "model.set_default",
        "model.unset_default",
    ]
    assert (await audit_actions(client, admin_key, other["id"]))[-1] == "model.deprecate"


async def test_update_names_bad_fields_and_changes_nothing(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key)
    model = await make_model(client, admin_key, provider["id"], "gpt-4o")
    before = await rest_state(client, admin_key)
    found = await error(
        client,
        admin_key,
        UPDATE,
        {"id": model["id"], "input": {"maxOutputTokens": -5, "displayName": None}},
        code="VALIDATION_FAILED",
    )
    assert "maxOutputTokens" in _paths(found) or "displayName" in _paths(found)
    assert all(p in ("maxOutputTokens", "displayName") for p in _paths(found))
    missing = await error(
        client,
        admin_key,
        UPDATE,
        {"id": "00000000-0000-0000-0000-000000000000", "input": {"displayName": "x"}},
        code="MODEL_NOT_FOUND",
    )
    assert missing["extensions"]["status"] == 404
    assert await rest_state(client, admin_key) == before


async def test_a_member_cannot_touch_another_users_models(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    alice = await make_member(client, admin_key)
    bob = await make_member(client, admin_key)
    bobs = await own_provider(client, bob, "bobs")
    before = await rest_state(client, admin_key)
    mid = bobs["model"]["id"]
    create = {"providerId": bobs["id"], "modelId": "sneaky"}
    await error(client, alice.key, CREATE, {"input": create}, code="PROVIDER_NOT_FOUND")
    for query, variables, method, path, code in (
        (UPDATE, {"id": mid, "input": {"displayName": "x"}}, "PATCH", "", "MODEL_NOT_FOUND"),
        (DEPRECATE, {"id": mid}, "POST", "/deprecate", "MODEL_NOT_FOUND"),
        (SET_DEFAULT, {"id": mid}, "POST", "/set-default", "FORBIDDEN"),  # admins' only
    ):
        found = await error(client, alice.key, query, variables, code=code)
        rest = await client.request(
            method, f"{API}/models/{mid}{path}", headers=auth(alice.key), json={}
        )
        assert rest.json()["error"]["code"] == code
        assert found["extensions"]["status"] == rest.status_code
    assert await rest_state(client, admin_key) == before
    # bob manages his own; alice may change her own but no system model
    mine = await data(client, bob.key, DEPRECATE, {"id": mid})
    assert mine["deprecateLlmModel"]["status"] == "DEPRECATED"
    system = await make_provider(client, admin_key)
    sys_model = await make_model(client, admin_key, system["id"], "gpt-4o")
    before = await rest_state(client, admin_key)
    await error(client, alice.key, DEPRECATE, {"id": sys_model["id"]}, code="FORBIDDEN")
    await error(client, alice.key, SET_DEFAULT, {"id": sys_model["id"]}, code="FORBIDDEN")
    create = {"providerId": system["id"], "modelId": "x"}
    await error(client, alice.key, CREATE, {"input": create}, code="FORBIDDEN")
    assert await rest_state(client, admin_key) == before


async def test_changes_need_registry_write_and_a_credential(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key)
    model = await make_model(client, admin_key, provider["id"], "gpt-4o")
    reader = await make_member(client, admin_key, role="admin", scopes=["registry.read"])
    before = await rest_state(client, admin_key)
    for query, variables in (
        (CREATE, {"input": {"providerId": provider["id"], "modelId": "x"}}),
        (UPDATE, {"id": model["id"], "input": {"displayName": "x"}}),
        (DEPRECATE, {"id": model["id"]}),
        (SET_DEFAULT, {"id": model["id"]}),
    ):
        found = await error(client, reader.key, query, variables, code="INSUFFICIENT_SCOPE")
        assert found["extensions"]["status"] == 403
        response = await gql(client, None, query, variables)
        assert response.status_code == 401
    assert await rest_state(client, admin_key) == before
