"""The catalog's models are kept across requests (catalog_docs.py) yet nothing of one
viewer reaches another: a model's provider is the one this request's viewer sees."""

from __future__ import annotations

import httpx

from tests.api.graphql.gql import data
from tests.api.helpers import make_member, make_model, make_provider

QUERY = """{ llmProviders { id apiKey models { id displayName provider { id apiKey } } } }"""


async def test_a_member_never_sees_the_key_hint_an_admin_saw_first(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key, "openai")
    await make_model(client, admin_key, provider["id"], "gpt-4o")
    member = await make_member(client, admin_key)
    seen_by_admin = (await data(client, admin_key, QUERY))["llmProviders"]
    assert seen_by_admin[0]["apiKey"]
    assert seen_by_admin[0]["models"][0]["provider"]["apiKey"] == seen_by_admin[0]["apiKey"]
    seen_by_member = (await data(client, member.key, QUERY))["llmProviders"]
    assert seen_by_member[0]["apiKey"] is None
    assert seen_by_member[0]["models"][0]["provider"] == {"id": provider["id"], "apiKey": None}
    again = (await data(client, admin_key, QUERY))["llmProviders"]
    assert again == seen_by_admin


async def test_a_renamed_model_is_answered_renamed(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key, "openai")
    model = await make_model(client, admin_key, provider["id"], "gpt-4o")
    assert (await data(client, admin_key, QUERY))["llmProviders"][0]["models"][0][
        "displayName"
    ] == model["display_name"]
    await client.patch(
        f"/api/v1/models/{model['id']}",
        json={"display_name": "Renamed"},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    models = (await data(client, admin_key, QUERY))["llmProviders"][0]["models"]
    assert models[0]["displayName"] == "Renamed"
