"""Seed 001's catalog operations through /graphql: llmProviders, llmModels, availableModels,
createLlmModel, updateLlmModel, deprecateLlmModel and setDefaultModel, over the same
services (and scopes, rules and error codes) as REST."""

from __future__ import annotations

import httpx

from tests.api.graphql.gql import data
from tests.api.helpers import API, auth, make_model, make_provider, ok

PROVIDERS = """query($owner: ProviderOwner, $kind: String, $enabled: Boolean) {
  llmProviders(owner: $owner, kind: $kind, enabled: $enabled) {
    id name kind scope ownerUserId apiKey hasApiKey enabled isDefault configVersion createdAt
    models { id modelId status providerId price { inputPerMtok outputPerMtok currency } }
  }
}"""


async def test_llm_providers_lists_what_the_overview_lists(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key, "openai")
    await make_model(
        client,
        admin_key,
        provider["id"],
        "gpt-4o",
        price={"input_per_mtok": "2.50", "output_per_mtok": "10"},
    )
    got = (await data(client, admin_key, PROVIDERS))["llmProviders"]
    rest = ok(await client.get(f"{API}/overview", headers=auth(admin_key)))
    assert [p["id"] for p in got] == [p["id"] for p in rest]
    mine = next(p for p in got if p["id"] == provider["id"])
    assert mine["apiKey"] == provider["api_key"]
    assert "sk-test-0123456789abcd" not in str(got)
    assert mine["models"][0]["modelId"] == "gpt-4o"
    assert mine["models"][0]["price"] == {
        "inputPerMtok": "2.5",
        "outputPerMtok": "10",
        "currency": "USD",
    }
