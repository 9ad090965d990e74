"""The catalog's relations through /graphql (provider -> models, model -> provider, model ->
priceHistory, provider and model -> usage): right answers through the dataloaders, and a
bounded number of SQL statements whatever the number of providers (no N+1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.api.graphql.catalog_support import PUBLIC_URL
from tests.api.graphql.gql import data, gql
from tests.api.helpers import make_member
from tests.api.usage_rows import insert_rows, row

USAGE = "usage { calls errors promptTokens completionTokens cost currency credits }"
DEEP = f"""{{
  llmProviders {{
    id name
    models {{ id modelId price {{ inputPerMtok }} priceHistory {{ id inputPerMtok }} {USAGE} }}
    {USAGE}
  }}
}}"""
SHORT_USAGE = "usage { calls promptTokens cost currency }"
PAGED = f"""{{
  providers(first: 50) {{
    nodes {{
      id
      models {{ id provider {{ id }} priceHistory {{ id }} {SHORT_USAGE} }}
      active: models(status: ACTIVE) {{ id }}
      {SHORT_USAGE}
    }}
  }}
}}"""


@contextmanager
def statements(registry: Registry) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs inside the block."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = registry.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def _providers(
    registry: Registry, admin: Actor, prefix: str, count: int, user: uuid.UUID
) -> list[dict[str, Any]]:
    """``count`` providers, each with two models priced twice (in USD and EUR) and one call
    on each model by ``user``; the usage rows written as the gateway writes them."""
    calls = []
    for p in range(count):
        provider = await registry.providers.create(
            admin, {"name": f"{prefix}-{p}", "kind": "ollama", "base_url": PUBLIC_URL}
        )
        for m in range(2):
            model = await registry.models.create(
                admin,
                {
                    "provider_id": provider.id,
                    "model_id": f"m-{m}",
                    "price": {
                        "input_per_mtok": f"{p}.{m}",
                        "output_per_mtok": "2",
                        "effective_from": "2020-01-01T00:00:00Z",
                    },
                },
            )
            await registry.prices.set(
                admin, model.id, {"input_per_mtok": "3", "output_per_mtok": "4"}
            )
            calls.append(
                row(
                    user,
                    "2030-01-01T10:00:00Z",
                    provider.name,
                    model.model_id,
                    prompt=10 * (m + 1),
                    completion=1,
                    cost="0.5",
                    currency="USD" if m == 0 else "EUR",
                    provider_id=provider.id,
                    model_id=model.id,
                )
            )
    await insert_rows(registry.db.engine, calls)
    return calls


async def test_relations_answer_through_the_dataloaders(
    client: httpx.AsyncClient, registry: Registry, admin: Actor, admin_key: str
) -> None:
    await _providers(registry, admin, "p", 2, admin.user_id or uuid.uuid4())
    got = (await data(client, admin_key, PAGED))["providers"]["nodes"]
    assert len(got) == 2
    for provider in got:
        assert [m["provider"]["id"] for m in provider["models"]] == [provider["id"]] * 2
        assert len(provider["active"]) == 2
        for model in provider["models"]:
            assert len(model["priceHistory"]) == 2
            (total,) = model["usage"]
            assert total["calls"] == 1
        by_currency = {t["currency"]: t for t in provider["usage"]}
        assert set(by_currency) == {"USD", "EUR"}  # never added up across currencies
        assert by_currency["USD"]["promptTokens"] == 10
        assert by_currency["EUR"]["promptTokens"] == 20
        assert by_currency["USD"]["cost"] == "0.5"
    deep = (await data(client, admin_key, DEEP))["llmProviders"]
    short = [
        [{k: t[k] for k in ("calls", "promptTokens", "cost", "currency")} for t in p["usage"]]
        for p in deep
    ]
    assert short == [p["usage"] for p in got]
    history = [m["priceHistory"] for p in deep for m in p["models"]]
    assert all([h["inputPerMtok"] for h in one][-1] == "3" for one in history)


async def test_usage_filters_by_time_and_shows_a_member_their_own_calls(
    client: httpx.AsyncClient, registry: Registry, admin: Actor, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    await _providers(registry, admin, "p", 1, uuid.UUID(member.id))
    query = """{ llmProviders {
      all: usage { calls } later: usage(since: "2031-01-01T00:00:00Z") { calls }
      models { usage(until: "2030-01-01T10:00:00Z") { calls } }
    } }"""
    mine = (await data(client, member.key, query))["llmProviders"]
    assert sum(t["calls"] for t in mine[0]["all"]) == 2
    assert mine[0]["later"] == []
    assert [m["usage"] for m in mine[0]["models"]] == [[], []]  # until is exclusive
    other = await make_member(client, admin_key)
    theirs = (await data(client, other.key, query))["llmProviders"]
    assert theirs[0]["all"] == []
    backwards = """{ llmProviders {
      usage(since: "2031-01-01T00:00:00Z", until: "2030-01-01T00:00:00Z") { calls }
    } }"""
    response = await gql(client, admin_key, backwards)
    (found,) = response.json()["errors"]
    assert found["extensions"]["code"] == "VALIDATION_FAILED"
    assert found["extensions"]["details"]["errors"][0]["path"] == "until"


async def test_usage_needs_registry_read_the_rest_still_answers(
    client: httpx.AsyncClient, registry: Registry, admin: Actor, admin_key: str
) -> None:
    await _providers(registry, admin, "p", 1, admin.user_id or uuid.uuid4())
    reader = await make_member(client, admin_key, scopes=["models.read"])
    response = await gql(client, reader.key, "{ llmProviders { name usage { calls } } }")
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "INSUFFICIENT_SCOPE"
    assert body["errors"][0]["path"] == ["llmProviders", 0, "usage"]
    assert body["data"] is None or body["data"]["llmProviders"] is None


async def test_statements_do_not_grow_with_the_providers(
    client: httpx.AsyncClient, registry: Registry, admin: Actor, admin_key: str
) -> None:
    user = admin.user_id or uuid.uuid4()
    await _providers(registry, admin, "small", 5, user)
    counts = {}
    seen_by: dict[Any, Any] = {}
    for size in (5, 50):
        if size == 50:
            await _providers(registry, admin, "large", 45, user)
        for name, query in (("deep", DEEP), ("paged", PAGED)):
            with statements(registry) as seen:
                response = await gql(client, admin_key, query)
            body = response.json()
            assert "errors" not in body, body
            listed = body["data"]["llmProviders" if name == "deep" else "providers"]
            providers = listed if name == "deep" else listed["nodes"]
            assert len(providers) == size
            assert all(len(p["models"]) == 2 for p in providers)
            assert all(len(p["usage"]) == 2 for p in providers)
            counts[name, size] = len(seen)
            seen_by[name, size] = [" ".join(s.split()) for s in seen]
    assert counts["deep", 5] == counts["deep", 50], counts
    assert counts["paged", 5] == counts["paged", 50], counts
    # each relation is one SELECT for all parents: usage by provider and by model, price
    # histories; llmProviders' models come with the overview (no query of their own; its
    # rebuild after the change reads what moved: two mark queries, then the rows)
    for name in ("deep", "paged"):
        selects = [s for s in seen_by[name, 50] if s.startswith("SELECT")]
        assert len([s for s in selects if "FROM usage_events" in s]) == 2, selects
        assert len(selects) <= 14, selects
