"""Limits against what a review found getting past them: lists that re-enter a type above
them (each level repeating the whole list: a 100-byte document made a 73 MB answer),
a page size hidden in a variable's default, a comment ending in a bare CR, and variables
nested a thousand deep."""

from __future__ import annotations

import httpx

from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import make_member, make_model, make_provider

ROUND_TRIP = "{ llmModels { provider { models { provider { models { id } } } } } }"
COSTLY = """query Q($n: Int = 500) { models(first: $n) { nodes {
  id modelId displayName status
  usage { calls errors promptTokens completionTokens cost currency }
  priceHistory { id inputPerMtok outputPerMtok currency effectiveFrom createdAt }
  provider { usage { calls errors promptTokens completionTokens cost currency } }
} } }"""


async def _catalog(client: httpx.AsyncClient, admin_key: str) -> None:
    for p in range(2):
        provider = await make_provider(client, admin_key, f"p{p}")
        for m in range(3):
            await make_model(client, admin_key, provider["id"], f"m{m}")


async def test_a_list_that_reenters_a_type_above_it_is_refused(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    await _catalog(client, admin_key)
    member = await make_member(client, admin_key, scopes=["models.read"])
    found = await error(client, member.key, ROUND_TRIP, code="GRAPHQL_TOO_COMPLEX", status=400)
    assert "models (LlmModel)" in found["message"]
    paged = "{ models(first: 5) { nodes { provider { models { id } } } } }"
    await error(client, admin_key, paged, code="GRAPHQL_TOO_COMPLEX", status=400)
    # one provider above its models is no repetition: answered
    back = await data(client, member.key, "{ llmProviders { models { provider { name } } } }")
    assert [m["provider"]["name"] for p in back["llmProviders"] for m in p["models"]] == [
        "p0"
    ] * 3 + ["p1"] * 3


async def test_a_page_size_in_a_variables_default_is_counted(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    await error(client, admin_key, COSTLY, code="GRAPHQL_TOO_COMPLEX", status=400)
    await error(client, admin_key, COSTLY, {"n": 500}, code="GRAPHQL_TOO_COMPLEX", status=400)
    small = await gql(client, admin_key, COSTLY.replace("= 500", "= 20"))
    assert small.status_code == 200, small.text
    assert "errors" not in small.json()


async def test_a_comment_ended_by_a_bare_cr_does_not_hide_brackets(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    deep = "#\r{ llmProviders(kind: " + "[" * 1500 + "1" + "]" * 1500 + ") { id } }"
    await error(client, admin_key, deep, code="GRAPHQL_NESTING_TOO_DEEP", status=400)


async def test_a_variable_nested_a_thousand_deep_is_refused_by_name(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    # written by hand: the client's own JSON encoder recurses too
    value = "[" * 1000 + '"x"' + "]" * 1000
    body = '{"query": "query($c: JSON!) { __typename }", "variables": {"c": ' + value + "}}"
    response = await client.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    found = response.json()["errors"][0]
    assert found["extensions"]["code"] == "VALIDATION_FAILED"
    assert found["extensions"]["details"]["errors"][0]["path"] == "$c"
    assert "recursion" not in response.text
