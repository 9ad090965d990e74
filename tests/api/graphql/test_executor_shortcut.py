"""The executor's shortcut (api/graphql/executor.py) takes the plain fields of seed 001's
model-metadata query: graphql-core's general path executes only the fields with a resolver
(the root field and each provider's models), never a plain field, a model's or a price's,
and the answer is REST's overview.

Not a timing test: it counts the fields the general path executed, so a change that
silently sends the models back to graphql-core (the cost the benchmark measures) fails."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from modelyard.api.graphql.executor import Executor
from tests.api.graphql.gql import data
from tests.api.helpers import API, auth, make_model, make_provider, ok

PROVIDERS, MODELS = 3, 4
QUERY = """{
  llmProviders {
    id name kind enabled
    models {
      id modelId displayName status contextWindow maxOutputTokens capabilities isDefault
      price { inputPerMtok outputPerMtok currency }
    }
  }
}"""


@pytest.fixture
def general_fields(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many fields graphql-core's general path executed, by the parent type's name."""
    counted: Counter[str] = Counter()
    general = Executor.execute_field

    def execute_field(self: Executor, parent_type: Any, *args: Any) -> Any:
        counted[parent_type.name] += 1
        return general(self, parent_type, *args)

    monkeypatch.setattr(Executor, "execute_field", execute_field)
    return counted


async def _catalog(client: httpx.AsyncClient, key: str) -> None:
    for p in range(PROVIDERS):
        provider = await make_provider(client, key, f"shortcut-{p}")
        for m in range(MODELS):
            await make_model(
                client,
                key,
                provider["id"],
                f"model-{p}-{m}",
                display_name=f"Model {p}.{m}",
                context_window=None if m == 0 else 8_000 * m,
                capabilities=["text", "vision"] if m % 2 else ["embedding"],
                price={"input_per_mtok": f"0.{m}5", "output_per_mtok": f"{p}.25"},
            )


async def test_the_models_never_take_the_general_path(
    client: httpx.AsyncClient, admin_key: str, general_fields: Counter[str]
) -> None:
    await _catalog(client, admin_key)
    general_fields.clear()
    got = (await data(client, admin_key, QUERY))["llmProviders"]
    assert sum(len(p["models"]) for p in got) == PROVIDERS * MODELS
    assert dict(general_fields) == {"Query": 1, "LlmProvider": PROVIDERS}


async def test_the_shortcut_answers_what_rest_answers(
    client: httpx.AsyncClient, admin_key: str, general_fields: Counter[str]
) -> None:
    await _catalog(client, admin_key)
    got = (await data(client, admin_key, QUERY))["llmProviders"]
    rest = ok(await client.get(f"{API}/overview", headers=auth(admin_key)))
    assert [p["id"] for p in got] == [p["id"] for p in rest]
    for provider, expected in zip(got, rest, strict=True):
        assert provider == {
            "id": expected["id"],
            "name": expected["name"],
            "kind": expected["kind"],
            "enabled": expected["enabled"],
            "models": [
                {
                    "id": m["id"],
                    "modelId": m["model_id"],
                    "displayName": m["display_name"],
                    "status": m["status"],
                    "contextWindow": m["context_window"],
                    "maxOutputTokens": m["max_output_tokens"],
                    "capabilities": m["capabilities"],
                    "isDefault": m["is_default"],
                    "price": {
                        "inputPerMtok": m["price"]["input_per_mtok"],
                        "outputPerMtok": m["price"]["output_per_mtok"],
                        "currency": m["price"]["currency"],
                    },
                }
                for m in expected["models"]
            ],
        }
    assert general_fields["LlmModel"] == general_fields["ModelPrice"] == 0


async def test_only_the_fields_with_a_resolver_take_the_general_path(
    client: httpx.AsyncClient, admin_key: str, general_fields: Counter[str]
) -> None:
    await _catalog(client, admin_key)
    general_fields.clear()
    query = "{ llmProviders { name models { modelId provider { name } displayName } } }"
    got = (await data(client, admin_key, query))["llmProviders"]
    for provider in got:
        assert [list(m) for m in provider["models"]] == [
            ["modelId", "provider", "displayName"]
        ] * MODELS  # the selection's order, plain and resolved fields merged
        assert {m["provider"]["name"] for m in provider["models"]} == {provider["name"]}
    # each model's relation runs the general way; its plain fields and the providers
    # that relation returns take the shortcut
    assert dict(general_fields) == {
        "Query": 1,
        "LlmProvider": PROVIDERS,
        "LlmModel": PROVIDERS * MODELS,
    }
