"""Seed 001's catalog queries through /graphql: llmProviders, llmModels and availableModels,
over the same services, scopes, visibility and error codes as REST."""

from __future__ import annotations

import httpx

from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.graphql.catalog_support import UPSTREAM_KEY, own_provider
from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, auth, make_member, make_model, make_provider, ok
from tests.gateway.server import running

PROVIDERS = """query($owner: ProviderOwner, $kind: String, $enabled: Boolean) {
  llmProviders(owner: $owner, kind: $kind, enabled: $enabled) {
    id name kind scope ownerUserId apiKey hasApiKey enabled isDefault configVersion
    models { id modelId status providerId price { inputPerMtok outputPerMtok currency } }
  }
}"""
MODELS = """query($providerId: ID, $status: ModelStatus, $capability: String) {
  llmModels(providerId: $providerId, status: $status, capability: $capability) {
    id modelId status capabilities provider { id name }
  }
}"""
AVAILABLE = """query($capability: String) {
  availableModels(capability: $capability) { id modelId status provider { name enabled } }
}"""


async def _catalog(client: httpx.AsyncClient, admin_key: str) -> dict[str, dict[str, str]]:
    """Two system providers (one disabled) with models, one deprecated, prices on two."""
    openai = await make_provider(client, admin_key, "openai")
    off = await make_provider(client, admin_key, "spare", enabled=False)
    models = {
        "gpt-4o": await make_model(
            client,
            admin_key,
            openai["id"],
            "gpt-4o",
            capabilities=["text", "vision"],
            price={"input_per_mtok": "2.50", "output_per_mtok": "10"},
        ),
        "gpt-3": await make_model(client, admin_key, openai["id"], "gpt-3"),
        "spare-1": await make_model(
            client,
            admin_key,
            off["id"],
            "spare-1",
            price={"input_per_mtok": "1", "output_per_mtok": "2", "currency": "EUR"},
        ),
    }
    ok(
        await client.post(
            f"{API}/models/{models['gpt-3']['id']}/deprecate", headers=auth(admin_key)
        )
    )
    return {"openai": openai, "spare": off, **models}


async def test_llm_providers_lists_what_the_overview_lists(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    made = await _catalog(client, admin_key)
    got = (await data(client, admin_key, PROVIDERS))["llmProviders"]
    rest = ok(await client.get(f"{API}/overview", headers=auth(admin_key)))
    assert [p["id"] for p in got] == [p["id"] for p in rest]
    for mine, theirs in zip(got, rest, strict=True):
        assert [m["id"] for m in mine["models"]] == [m["id"] for m in theirs["models"]]
        assert mine["apiKey"] == theirs["api_key"]
        assert mine["configVersion"] == theirs["config_version"]
    openai = next(p for p in got if p["id"] == made["openai"]["id"])
    assert openai["hasApiKey"] is True
    assert UPSTREAM_KEY not in str(got)
    gpt4o = next(m for m in openai["models"] if m["modelId"] == "gpt-4o")
    assert gpt4o["price"] == {"inputPerMtok": "2.5", "outputPerMtok": "10", "currency": "USD"}
    assert gpt4o["providerId"] == openai["id"]
    assert {m["status"] for m in openai["models"]} == {"ACTIVE", "DEPRECATED"}


async def test_llm_providers_filters_as_rest_does(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    made = await _catalog(client, admin_key)
    member = await make_member(client, admin_key)
    own = await own_provider(client, member)
    for variables, query in (
        ({"enabled": False}, {"enabled": "false"}),
        ({"enabled": True}, {"enabled": "true"}),
        ({"owner": "SYSTEM"}, {"owner": "system"}),
        ({"owner": "MINE"}, {"owner": "mine"}),
        ({"kind": "ollama"}, {"kind": "ollama"}),
    ):
        for key in (admin_key, member.key):
            got = (await data(client, key, PROVIDERS, variables))["llmProviders"]
            rest = ok(await client.get(f"{API}/overview", params=query, headers=auth(key)))
            assert [p["id"] for p in got] == [p["id"] for p in rest], variables
    spare = (await data(client, admin_key, PROVIDERS, {"enabled": False}))["llmProviders"]
    assert [p["id"] for p in spare] == [made["spare"]["id"]]
    mine = (await data(client, member.key, PROVIDERS, {"owner": "MINE"}))["llmProviders"]
    assert [p["id"] for p in mine] == [own["id"]]
    found = await error(
        client, admin_key, PROVIDERS, {"kind": "no-such-kind"}, code="VALIDATION_FAILED"
    )
    rest = await client.get(
        f"{API}/overview", params={"kind": "no-such-kind"}, headers=auth(admin_key)
    )
    assert found["extensions"]["status"] == rest.status_code == 422
    assert found["extensions"]["details"]["errors"][0]["path"] == "kind"


async def test_a_member_sees_system_providers_and_their_own_only(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    made = await _catalog(client, admin_key)
    alice = await make_member(client, admin_key)
    bob = await make_member(client, admin_key)
    alices = await own_provider(client, alice, "alices")
    bobs = await own_provider(client, bob, "bobs")
    seen = (await data(client, alice.key, PROVIDERS))["llmProviders"]
    ids = {p["id"] for p in seen}
    assert alices["id"] in ids
    assert made["openai"]["id"] in ids
    assert bobs["id"] not in ids
    system = next(p for p in seen if p["id"] == made["openai"]["id"])
    assert system["apiKey"] is None  # only who manages a provider sees even its hint
    assert UPSTREAM_KEY not in str(seen)
    models = (await data(client, alice.key, MODELS))["llmModels"]
    assert bobs["model"]["id"] not in {m["id"] for m in models}
    assert alices["model"]["id"] in {m["id"] for m in models}
    hidden = (await data(client, alice.key, MODELS, {"providerId": bobs["id"]}))["llmModels"]
    assert hidden == []


async def test_llm_models_filters_and_names_its_provider(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    made = await _catalog(client, admin_key)
    every = (await data(client, admin_key, MODELS))["llmModels"]
    assert {m["modelId"] for m in every} == {"gpt-4o", "gpt-3", "spare-1"}
    by_id = {m["modelId"]: m for m in every}
    assert by_id["spare-1"]["provider"] == {"id": made["spare"]["id"], "name": "spare"}
    active = (await data(client, admin_key, MODELS, {"status": "ACTIVE"}))["llmModels"]
    assert {m["modelId"] for m in active} == {"gpt-4o", "spare-1"}
    vision = (await data(client, admin_key, MODELS, {"capability": "vision"}))["llmModels"]
    assert [m["modelId"] for m in vision] == ["gpt-4o"]
    of_spare = await data(client, admin_key, MODELS, {"providerId": made["spare"]["id"]})
    assert [m["modelId"] for m in of_spare["llmModels"]] == ["spare-1"]
    for params in ({"status": "DEPRECATED"}, {"capability": "vision"}):
        rest = ok(await client.get(f"{API}/models", params=params, headers=auth(admin_key)))
        wanted = {"status": "DEPRECATED"} if "status" in params else {"capability": "vision"}
        got = (await data(client, admin_key, MODELS, wanted))["llmModels"]
        assert sorted(m["id"] for m in got) == sorted(m["id"] for m in rest["items"])


async def test_llm_models_refuses_an_unknown_capability_as_rest_does(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    found = await error(
        client, admin_key, MODELS, {"capability": "telepathy"}, code="VALIDATION_FAILED"
    )
    assert found["extensions"]["status"] == 422
    assert found["extensions"]["details"]["errors"][0]["path"] == "capability"
    rest = await client.get(
        f"{API}/models", params={"capability": "telepathy"}, headers=auth(admin_key)
    )
    assert rest.status_code == 422
    unknown = await error(
        client, admin_key, MODELS, {"providerId": "not-an-id"}, code="VALIDATION_FAILED"
    )
    assert unknown["extensions"]["details"]["errors"][0]["path"] == "providerId"
    rest = await client.get(
        f"{API}/models", params={"provider_id": "not-an-id"}, headers=auth(admin_key)
    )
    assert unknown["extensions"]["status"] == rest.status_code == 422


async def _v1_active(settings: Settings, registry: Registry, key: str) -> set[str]:
    """The ACTIVE models a real gateway's /v1/models lists for ``key`` now."""
    async with running(settings, registry) as (url, _app), httpx.AsyncClient() as http:
        listed = ok(await http.get(f"{url}/v1/models", headers=auth(key)))["data"]
    return {m["id"] for m in listed if m["status"] == "ACTIVE"}


async def test_available_models_are_active_of_enabled_usable_providers(
    client: httpx.AsyncClient, admin_key: str, settings: Settings, registry: Registry
) -> None:
    made = await _catalog(client, admin_key)
    alice = await make_member(client, admin_key)
    bob = await make_member(client, admin_key)
    alices = await own_provider(client, alice, "alices")
    await own_provider(client, bob, "bobs")
    got = (await data(client, alice.key, AVAILABLE))["availableModels"]
    assert sorted(m["modelId"] for m in got) == ["gpt-4o", "local-model"]
    assert all(m["status"] == "ACTIVE" and m["provider"]["enabled"] for m in got)
    # the admin can call system models and their own, not a member's
    admins = (await data(client, admin_key, AVAILABLE))["availableModels"]
    assert [m["modelId"] for m in admins] == ["gpt-4o"]
    vision = await data(client, alice.key, AVAILABLE, {"capability": "vision"})
    assert [m["modelId"] for m in vision["availableModels"]] == ["gpt-4o"]
    # /v1/models lists the same (with the deprecated ones too)
    assert await _v1_active(settings, registry, alice.key) == {"gpt-4o", "local-model"}
    ok(await client.post(f"{API}/providers/{alices['id']}/disable", headers=auth(alice.key)))
    after = (await data(client, alice.key, AVAILABLE))["availableModels"]
    assert [m["modelId"] for m in after] == ["gpt-4o"]
    ok(await client.post(f"{API}/providers/{made['spare']['id']}/enable", headers=auth(admin_key)))
    enabled = (await data(client, alice.key, AVAILABLE))["availableModels"]
    assert sorted(m["modelId"] for m in enabled) == ["gpt-4o", "spare-1"]


async def test_available_models_follow_the_plan(
    client: httpx.AsyncClient, admin_key: str, settings: Settings, registry: Registry
) -> None:
    await _catalog(client, admin_key)
    alice = await make_member(client, admin_key)
    await own_provider(client, alice, "alices")
    plan = ok(
        await client.post(
            f"{API}/plans",
            headers=auth(admin_key),
            json={"name": "narrow", "monthly_credits": "0", "allowed_models": ["gpt-4o"]},
        ),
        201,
    )
    ok(
        await client.post(
            f"{API}/subscriptions",
            headers=auth(admin_key),
            json={"user_id": alice.id, "plan": plan["name"]},
        ),
        201,
    )
    got = (await data(client, alice.key, AVAILABLE))["availableModels"]
    assert [m["modelId"] for m in got] == ["gpt-4o"]
    assert await _v1_active(settings, registry, alice.key) == {"gpt-4o"}


async def test_a_key_without_models_read_is_refused_and_no_key_is_401(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    narrow = await make_member(client, admin_key, scopes=["credits.read"])
    for query in (PROVIDERS, MODELS, AVAILABLE):
        found = await error(client, narrow.key, query, code="INSUFFICIENT_SCOPE")
        assert found["extensions"]["status"] == 403
        response = await gql(client, None, query)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    reader = await make_member(client, admin_key, scopes=["models.read"])
    assert (await data(client, reader.key, PROVIDERS))["llmProviders"] == []
