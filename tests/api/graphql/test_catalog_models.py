"""Models and prices through /graphql as REST has them: model, models (a connection with
REST's filters), modelPriceAt, setModelPrice, reactivateLlmModel and deleteLlmModel."""

from __future__ import annotations

import httpx

from tests.api.graphql.catalog_support import audit_actions, own_provider, rest_state
from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, auth, make_member, make_model, make_provider, ok

ONE = """query($id: ID!) {
  model(id: $id) { id modelId status price { inputPerMtok currency } priceHistory { id } }
}"""
PAGE = """query($first: Int, $after: String, $providerId: ID, $status: ModelStatus) {
  models(first: $first, after: $after, providerId: $providerId, status: $status) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id modelId } }
  }
}"""
PRICE_AT = """query($modelId: ID!, $at: DateTime!) {
  modelPriceAt(modelId: $modelId, at: $at) { inputPerMtok outputPerMtok effectiveFrom }
}"""
SET_PRICE = """mutation($modelId: ID!, $input: PriceInput!) {
  setModelPrice(modelId: $modelId, input: $input) {
    id modelId inputPerMtok outputPerMtok cachedInputPerMtok cacheWritePerMtok creditsPer1k
    currency effectiveFrom
  }
}"""
REACTIVATE = "mutation($id: ID!) { reactivateLlmModel(id: $id) { id status } }"
DELETE = "mutation($id: ID!) { deleteLlmModel(id: $id) }"


async def test_model_and_models_answer_what_rest_answers(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key)
    ids = [
        (await make_model(client, admin_key, provider["id"], name))["id"]
        for name in ("a-model", "b-model", "c-model")
    ]
    got = (await data(client, admin_key, ONE, {"id": ids[0]}))["model"]
    assert got == {
        "id": ids[0],
        "modelId": "a-model",
        "status": "ACTIVE",
        "price": None,
        "priceHistory": [],
    }
    first = (await data(client, admin_key, PAGE, {"first": 2}))["models"]
    assert first["totalCount"] == 3
    assert [e["node"]["id"] for e in first["edges"]] == ids[:2]
    rest = ok(await client.get(f"{API}/models", params={"limit": 2}, headers=auth(admin_key)))
    assert [m["id"] for m in rest["items"]] == ids[:2]
    after = first["pageInfo"]["endCursor"]
    rest_of = (await data(client, admin_key, PAGE, {"first": 2, "after": after}))["models"]
    assert [e["node"]["id"] for e in rest_of["edges"]] == ids[2:]
    assert rest_of["pageInfo"]["hasNextPage"] is False
    none = (await data(client, admin_key, PAGE, {"status": "DEPRECATED"}))["models"]
    assert none["totalCount"] == 0
    missing = await error(
        client,
        admin_key,
        ONE,
        {"id": "00000000-0000-0000-0000-000000000001"},
        code="MODEL_NOT_FOUND",
    )
    assert missing["extensions"]["status"] == 404
    not_id = await error(client, admin_key, PAGE, {"providerId": "nope"}, code="VALIDATION_FAILED")
    assert not_id["extensions"]["details"]["errors"][0]["path"] == "providerId"
    bad = await error(client, admin_key, PAGE, {"after": "not-ours"}, code="VALIDATION_FAILED")
    assert bad["extensions"]["details"]["errors"][0]["path"] == "after"


async def test_prices_are_appended_and_read_at_a_time(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key)
    model = await make_model(client, admin_key, provider["id"], "gpt-4o")
    old = {
        "inputPerMtok": "2.50",
        "outputPerMtok": "10",
        "cachedInputPerMtok": "1.25",
        "effectiveFrom": "2020-01-01T00:00:00Z",
    }
    new = {"inputPerMtok": "2", "outputPerMtok": "8", "effectiveFrom": "2021-01-01T00:00:00Z"}
    first = await data(client, admin_key, SET_PRICE, {"modelId": model["id"], "input": old})
    assert first["setModelPrice"]["inputPerMtok"] == "2.5"
    assert first["setModelPrice"]["cachedInputPerMtok"] == "1.25"
    assert first["setModelPrice"]["currency"] == "USD"
    await data(client, admin_key, SET_PRICE, {"modelId": model["id"], "input": new})
    at = {"modelId": model["id"], "at": "2020-06-01T00:00:00Z"}
    then = (await data(client, admin_key, PRICE_AT, at))["modelPriceAt"]
    assert then["inputPerMtok"] == "2.5"
    rest = ok(
        await client.get(
            f"{API}/models/{model['id']}/price",
            params={"at": "2020-06-01T00:00:00Z"},
            headers=auth(admin_key),
        )
    )
    assert rest["input_per_mtok"] == then["inputPerMtok"]
    history = (await data(client, admin_key, ONE, {"id": model["id"]}))["model"]
    assert [p["id"] for p in history["priceHistory"]] == [
        p["id"]
        for p in ok(await client.get(f"{API}/models/{model['id']}/prices", headers=auth(admin_key)))
    ]
    assert history["price"]["inputPerMtok"] == "2"
    before = {"modelId": model["id"], "at": "2019-01-01T00:00:00Z"}
    found = await error(client, admin_key, PRICE_AT, before, code="PRICE_NOT_FOUND")
    assert found["extensions"]["status"] == 404
    assert (await audit_actions(client, admin_key, model["id"]))[-2:] == [
        "model.price_change",
        "model.price_change",
    ]


async def test_a_bad_or_clashing_price_is_named_and_changes_nothing(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key)
    model = await make_model(client, admin_key, provider["id"], "gpt-4o")
    when = "2020-01-01T00:00:00Z"
    price = {"inputPerMtok": "1", "outputPerMtok": "1", "effectiveFrom": when}
    await data(client, admin_key, SET_PRICE, {"modelId": model["id"], "input": price})
    before = await rest_state(client, admin_key)
    bad = {"inputPerMtok": "-1", "outputPerMtok": "1", "creditsPer1k": "-2", "currency": "usd"}
    found = await error(
        client,
        admin_key,
        SET_PRICE,
        {"modelId": model["id"], "input": bad},
        code="VALIDATION_FAILED",
    )
    paths = {e["path"] for e in found["extensions"]["details"]["errors"]}
    assert paths == {"inputPerMtok", "creditsPer1k", "currency"}
    clash = await error(
        client, admin_key, SET_PRICE, {"modelId": model["id"], "input": price}, code="PRICE_EXISTS"
    )
    assert clash["extensions"]["status"] == 409
    assert await rest_state(client, admin_key) == before


async def test_reactivate_and_delete(client: httpx.AsyncClient, admin_key: str) -> None:
    provider = await make_provider(client, admin_key)
    model = await make_model(client, admin_key, provider["id"], "gpt-4o")
    mid = model["id"]
    found = await error(client, admin_key, REACTIVATE, {"id": mid}, code="MODEL_STATUS_UNCHANGED")
    assert found["extensions"]["status"] == 409
    ok(await client.post(f"{API}/models/{mid}/deprecate", headers=auth(admin_key)))
    back = (await data(client, admin_key, REACTIVATE, {"id": mid}))["reactivateLlmModel"]
    assert back == {"id": mid, "status": "ACTIVE"}
    assert (await data(client, admin_key, DELETE, {"id": mid}))["deleteLlmModel"] == mid
    assert (await client.get(f"{API}/models/{mid}", headers=auth(admin_key))).status_code == 404
    assert await audit_actions(client, admin_key, mid) == [
        "model.create",
        "model.deprecate",
        "model.reactivate",
        "model.delete",
    ]


async def test_a_member_cannot_touch_another_users_model_or_prices(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    alice = await make_member(client, admin_key)
    bob = await make_member(client, admin_key)
    bobs = await own_provider(client, bob, "bobs")
    mid = bobs["model"]["id"]
    ok(await client.post(f"{API}/models/{mid}/deprecate", headers=bob.headers))
    before = await rest_state(client, admin_key)
    price = {"inputPerMtok": "1", "outputPerMtok": "1"}
    for query, variables in (
        (ONE, {"id": mid}),
        (PRICE_AT, {"modelId": mid, "at": "2030-01-01T00:00:00Z"}),
        (SET_PRICE, {"modelId": mid, "input": price}),
        (REACTIVATE, {"id": mid}),
        (DELETE, {"id": mid}),
    ):
        found = await error(client, alice.key, query, variables, code="MODEL_NOT_FOUND")
        assert found["extensions"]["status"] == 404
    page = (await data(client, alice.key, PAGE, {"providerId": bobs["id"]}))["models"]
    assert page["totalCount"] == 0
    assert await rest_state(client, admin_key) == before
    # bob's own: he sets its price
    mine = await data(client, bob.key, SET_PRICE, {"modelId": mid, "input": price})
    assert mine["setModelPrice"]["modelId"] == mid


async def test_reads_need_models_read_changes_registry_write(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key)
    model = await make_model(client, admin_key, provider["id"], "gpt-4o")
    narrow = await make_member(client, admin_key, scopes=["credits.read"])
    reader = await make_member(client, admin_key, role="admin", scopes=["models.read"])
    for query, variables in ((ONE, {"id": model["id"]}), (PAGE, {})):
        await error(client, narrow.key, query, variables, code="INSUFFICIENT_SCOPE")
        assert (await gql(client, None, query, variables)).status_code == 401
    assert (await data(client, reader.key, PAGE))["models"]["totalCount"] == 1
    before = await rest_state(client, admin_key)
    price = {"inputPerMtok": "1", "outputPerMtok": "1"}
    for query, variables in (
        (SET_PRICE, {"modelId": model["id"], "input": price}),
        (DELETE, {"id": model["id"]}),
    ):
        found = await error(client, reader.key, query, variables, code="INSUFFICIENT_SCOPE")
        assert found["extensions"]["status"] == 403
        assert (await gql(client, None, query, variables)).status_code == 401
    assert await rest_state(client, admin_key) == before


async def test_odd_input_is_named_never_an_internal_error(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key)
    model = await make_model(client, admin_key, provider["id"], "gpt-4o")
    before = await rest_state(client, admin_key)
    naive = {"inputPerMtok": "1", "outputPerMtok": "1", "effectiveFrom": "2030-01-01T00:00:00"}
    usage = "query($since: DateTime) { llmProviders { usage(since: $since) { calls } } }"
    create = "mutation($input: CreateLlmModelInput!) { createLlmModel(input: $input) { id } }"
    for query, variables, path in (
        (SET_PRICE, {"modelId": model["id"], "input": naive}, "effectiveFrom"),
        (PRICE_AT, {"modelId": model["id"], "at": "2030-01-01T00:00:00"}, "at"),
        (usage, {"since": "2030-01-01T00:00:00"}, "since"),
        (create, {"input": {"providerId": "nope", "modelId": "x"}}, "providerId"),
    ):
        found = await error(client, admin_key, query, variables, code="VALIDATION_FAILED")
        assert found["extensions"]["details"]["errors"][0]["path"] == path
    assert await rest_state(client, admin_key) == before
