"""Models over HTTP: the catalog, its filters and pages, and the model lifecycle."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.api.helpers import (
    API,
    Member,
    assert_error,
    auth,
    make_member,
    make_model,
    make_provider,
    ok,
    snapshot,
)

MODELS = f"{API}/models"


def exact(model: dict[str, Any]) -> dict[str, Any]:
    """A model with its price amounts as Decimals: PostgreSQL reads NUMERIC(20, 10) back with
    ten places ("0.1500000000"), SQLite keeps the digits given ("0.15")."""
    price = model["price"] and {
        k: Decimal(v) if k.endswith(("_mtok", "_1k")) and v is not None else v
        for k, v in model["price"].items()
    }
    return model | {"price": price}


async def test_created_model_shows_its_current_price_and_defaults(
    client: httpx.AsyncClient, admin_key: str, provider: dict[str, Any]
) -> None:
    created = await make_model(
        client,
        admin_key,
        provider["id"],
        "gpt-4o-mini",
        price={"input_per_mtok": "0.15", "output_per_mtok": "0.60"},
    )
    assert (created["status"], created["is_default"], created["capabilities"]) == (
        "ACTIVE",
        False,
        ["text"],
    )
    assert Decimal(created["price"]["input_per_mtok"]) == Decimal("0.15")
    read = ok(await client.get(f"{MODELS}/{created['id']}", headers=auth(admin_key)))
    assert exact(read) == exact(created)


async def test_deprecated_model_cannot_become_the_default_and_nothing_changes(
    client: httpx.AsyncClient, admin_key: str, provider: dict[str, Any]
) -> None:
    model = await make_model(client, admin_key, provider["id"])
    path = f"{MODELS}/{model['id']}"
    deprecated = ok(await client.post(f"{path}/deprecate", headers=auth(admin_key)))
    assert deprecated["status"] == "DEPRECATED"
    before = await snapshot(client, admin_key, path, MODELS, f"{API}/audit")
    response = await client.post(f"{path}/set-default", headers=auth(admin_key))
    assert_error(response, 409, "MODEL_DEPRECATED")
    assert await snapshot(client, admin_key, path, MODELS, f"{API}/audit") == before
    assert_error(await client.post(f"{path}/deprecate", headers=auth(admin_key)), 409)
    ok(await client.post(f"{path}/reactivate", headers=auth(admin_key)))
    assert ok(await client.post(f"{path}/set-default", headers=auth(admin_key)))["is_default"]


async def test_setting_a_new_default_model_unsets_the_previous_one(
    client: httpx.AsyncClient, admin_key: str, provider: dict[str, Any]
) -> None:
    first = await make_model(client, admin_key, provider["id"], "a")
    second = await make_model(client, admin_key, provider["id"], "b")
    for model in (first, second):
        ok(await client.post(f"{MODELS}/{model['id']}/set-default", headers=auth(admin_key)))
    listed = ok(await client.get(MODELS, headers=auth(admin_key)))["items"]
    assert {m["model_id"]: m["is_default"] for m in listed} == {"a": False, "b": True}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["alpha", "beta", "gamma"]),
        ({"status": "DEPRECATED"}, ["gamma"]),
        ({"capability": "vision"}, ["beta"]),
        ({"limit": 2}, ["alpha", "beta"]),
        ({"limit": 2, "offset": 2}, ["gamma"]),
    ],
)
async def test_model_list_filters_and_pages(
    client: httpx.AsyncClient,
    admin_key: str,
    provider: dict[str, Any],
    params: dict[str, Any],
    expected: list[str],
) -> None:
    other = await make_provider(client, admin_key, "other", kind="ollama", api_key=None)
    await make_model(client, admin_key, other["id"], "elsewhere")
    await make_model(client, admin_key, provider["id"], "alpha")
    await make_model(client, admin_key, provider["id"], "beta", capabilities=["text", "vision"])
    gamma = await make_model(client, admin_key, provider["id"], "gamma")
    ok(await client.post(f"{MODELS}/{gamma['id']}/deprecate", headers=auth(admin_key)))
    page = ok(
        await client.get(
            MODELS, headers=auth(admin_key), params={"provider_id": provider["id"]} | params
        )
    )
    assert [m["model_id"] for m in page["items"]] == expected
    full = 3 if "status" not in params and "capability" not in params else len(expected)
    assert (page["total"], page["limit"], page["offset"]) == (
        full,
        params.get("limit", 50),
        params.get("offset", 0),
    )


@pytest.mark.parametrize(
    "params", [{"capability": "telepathy"}, {"status": "RETIRED"}, {"provider_id": "nope"}]
)
async def test_unknown_model_filters_are_a_422(
    client: httpx.AsyncClient, admin_key: str, params: dict[str, str]
) -> None:
    assert_error(await client.get(MODELS, headers=auth(admin_key), params=params), 422)


async def test_model_can_be_patched_and_deleted(
    client: httpx.AsyncClient, admin_key: str, priced: dict[str, Any]
) -> None:
    path = f"{MODELS}/{priced['id']}"
    patched = ok(
        await client.patch(
            path, headers=auth(admin_key), json={"display_name": "GPT-4o", "context_window": 128000}
        )
    )
    assert (patched["display_name"], patched["context_window"]) == ("GPT-4o", 128000)
    ok(await client.delete(path, headers=auth(admin_key)), 204)
    assert_error(await client.get(path, headers=auth(admin_key)), 404, "MODEL_NOT_FOUND")
    assert_error(await client.get(f"{path}/prices", headers=auth(admin_key)), 404)


@pytest.mark.parametrize(
    "body",
    [{"display_name": None}, {"capabilities": ["text", "smell"]}, {"context_window": 0}, {"x": 1}],
)
async def test_invalid_model_patch_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, admin_key: str, priced: dict[str, Any], body: dict[str, Any]
) -> None:
    path = f"{MODELS}/{priced['id']}"
    before = await snapshot(client, admin_key, path)
    assert_error(await client.patch(path, headers=auth(admin_key), json=body), 422)
    assert await snapshot(client, admin_key, path) == before


async def test_duplicate_model_id_on_a_provider_is_a_conflict(
    client: httpx.AsyncClient, admin_key: str, priced: dict[str, Any]
) -> None:
    body = {"provider_id": priced["provider_id"], "model_id": priced["model_id"]}
    before = await snapshot(client, admin_key, MODELS)
    assert_error(await client.post(MODELS, headers=auth(admin_key), json=body), 409, "NAME_TAKEN")
    assert await snapshot(client, admin_key, MODELS) == before


async def _member_with_system_model(
    client: httpx.AsyncClient, admin_key: str, provider: dict[str, Any]
) -> tuple[Member, dict[str, Any]]:
    member = await make_member(client, admin_key)
    return member, await make_model(client, admin_key, provider["id"])


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"display_name": "mine"}),
        ("DELETE", "", None),
        ("POST", "/deprecate", None),
        ("POST", "/set-default", None),
        ("POST", "/prices", {"input_per_mtok": "0", "output_per_mtok": "0"}),
    ],
)
async def test_member_may_read_but_not_change_a_system_model(
    client: httpx.AsyncClient,
    admin_key: str,
    provider: dict[str, Any],
    method: str,
    suffix: str,
    body: Any,
) -> None:
    member, model = await _member_with_system_model(client, admin_key, provider)
    path = f"{MODELS}/{model['id']}"
    assert ok(await client.get(path, headers=member.headers)) == model
    before = await snapshot(client, admin_key, path, f"{path}/prices")
    response = await client.request(method, path + suffix, headers=member.headers, json=body)
    assert_error(response, 403, "FORBIDDEN")
    assert await snapshot(client, admin_key, path, f"{path}/prices") == before


async def test_member_manages_models_of_an_own_provider(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    own = await make_provider(client, member.key, "mine")
    model = await make_model(
        client, member.key, own["id"], price={"input_per_mtok": "1", "output_per_mtok": "2"}
    )
    ok(await client.post(f"{MODELS}/{model['id']}/deprecate", headers=member.headers))
    ok(await client.delete(f"{MODELS}/{model['id']}", headers=member.headers), 204)
    assert ok(await client.get(MODELS, headers=member.headers))["total"] == 0
