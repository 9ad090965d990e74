"""GET /api/v1/overview: providers with their models and current prices."""

from __future__ import annotations

import httpx

from tests.api.helpers import API, assert_error, auth, make_member, make_model, make_provider, ok

OVERVIEW = f"{API}/overview"


async def test_overview_lists_visible_providers_with_models_and_prices(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    alice = await make_member(client, admin_key)
    bob = await make_member(client, admin_key)
    system = await make_provider(client, admin_key, "system-openai")
    await make_model(
        client,
        admin_key,
        system["id"],
        "gpt-4o",
        price={"input_per_mtok": "2.50", "output_per_mtok": "10"},
    )
    mine = await make_provider(client, alice.key, "alice-byok")
    await make_model(client, alice.key, mine["id"], "gpt-4o-mini")
    await make_provider(client, bob.key, "bob-byok")

    seen = ok(await client.get(OVERVIEW, headers=alice.headers))

    assert [(p["name"], [m["model_id"] for m in p["models"]]) for p in seen] == [
        ("system-openai", ["gpt-4o"]),
        ("alice-byok", ["gpt-4o-mini"]),
    ]
    price = seen[0]["models"][0]["price"]
    assert (price["input_per_mtok"], price["output_per_mtok"]) == ("2.5", "10")
    assert seen[0]["api_key"] is None  # a member does not see a system key's hint
    assert seen[1]["api_key"] == "sk-...abcd"
    everything = ok(await client.get(OVERVIEW, headers=auth(admin_key)))
    assert len(everything) == 3


async def test_overview_follows_changes_and_filters(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    first = await make_provider(client, admin_key, "first")
    assert [p["name"] for p in ok(await client.get(OVERVIEW, headers=auth(admin_key)))] == ["first"]
    await make_provider(client, admin_key, "second", enabled=False)
    ok(await client.post(f"{API}/providers/{first['id']}/disable", headers=auth(admin_key)))
    after = ok(await client.get(OVERVIEW, headers=auth(admin_key)))
    assert [(p["name"], p["enabled"]) for p in after] == [("first", False), ("second", False)]
    none_enabled = ok(
        await client.get(OVERVIEW, headers=auth(admin_key), params={"enabled": "true"})
    )
    assert none_enabled == []


async def test_overview_refuses_an_unknown_kind_filter(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    response = await client.get(OVERVIEW, headers=auth(admin_key), params={"kind": "nope"})
    assert_error(response, 422, "VALIDATION_FAILED")
