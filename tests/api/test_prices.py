"""Effective-dated model prices over HTTP: history, appending, and the price at a time."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.api.helpers import API, MAR, assert_error, auth, ok, snapshot

MODELS = f"{API}/models"


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2030-01-01T00:00:00Z", "2.50"),  # the moment the first price starts
        ("2030-02-01T12:00:00+02:00", "2.50"),  # between the two, given in another zone
        ("2030-02-28T23:59:59Z", "2.50"),
        ("2030-03-01T00:00:00Z", "1.25"),
        ("2031-06-01T00:00:00-05:00", "1.25"),  # long after the second
    ],
)
async def test_price_at_returns_the_row_in_force_at_that_time(
    client: httpx.AsyncClient, admin_key: str, priced: dict[str, Any], at: str, expected: str
) -> None:
    found = ok(
        await client.get(
            f"{MODELS}/{priced['id']}/price", headers=auth(admin_key), params={"at": at}
        )
    )
    assert Decimal(found["input_per_mtok"]) == Decimal(expected)


async def test_price_before_the_first_one_is_not_found(
    client: httpx.AsyncClient, admin_key: str, priced: dict[str, Any]
) -> None:
    response = await client.get(
        f"{MODELS}/{priced['id']}/price",
        headers=auth(admin_key),
        params={"at": "2029-12-31T23:59Z"},
    )
    assert_error(response, 404, "PRICE_NOT_FOUND")


async def test_price_history_keeps_every_row_oldest_first(
    client: httpx.AsyncClient, admin_key: str, priced: dict[str, Any]
) -> None:
    history = ok(await client.get(f"{MODELS}/{priced['id']}/prices", headers=auth(admin_key)))
    assert [(Decimal(p["input_per_mtok"]), Decimal(p["output_per_mtok"])) for p in history] == [
        (Decimal("2.50"), Decimal("10")),
        (Decimal("1.25"), Decimal("5")),
    ]
    assert [p["currency"] for p in history] == ["USD", "USD"]


async def test_a_cache_write_price_is_kept_and_shown_with_the_price(
    client: httpx.AsyncClient, admin_key: str, priced: dict[str, Any]
) -> None:
    prices = f"{MODELS}/{priced['id']}/prices"
    price = {
        "input_per_mtok": "3",
        "output_per_mtok": "15",
        "cached_input_per_mtok": "0.30",
        "cache_write_per_mtok": "3.75",
        "effective_from": "2031-01-01T00:00:00Z",
    }
    created = ok(await client.post(prices, headers=auth(admin_key), json=price), 201)
    assert (created["cached_input_per_mtok"], created["cache_write_per_mtok"]) == ("0.3", "3.75")
    history = ok(await client.get(prices, headers=auth(admin_key)))
    assert [p["cache_write_per_mtok"] for p in history] == [None, None, "3.75"]
    at = {"at": "2031-06-01T00:00:00Z"}
    found = ok(
        await client.get(f"{MODELS}/{priced['id']}/price", headers=auth(admin_key), params=at)
    )
    assert found["cache_write_per_mtok"] == "3.75"


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"at": "2030-02-01T00:00:00"}, "at"),  # naive: no zone
        ({"at": "next tuesday"}, "at"),
        ({}, "at"),
    ],
)
async def test_price_at_needs_a_time_with_a_zone(
    client: httpx.AsyncClient,
    admin_key: str,
    priced: dict[str, Any],
    params: dict[str, str],
    path: str,
) -> None:
    response = await client.get(
        f"{MODELS}/{priced['id']}/price", headers=auth(admin_key), params=params
    )
    error = assert_error(response, 422, "VALIDATION_FAILED")
    assert error["details"]["errors"][0]["path"] == path


@pytest.mark.parametrize(
    ("price", "status", "code"),
    [
        ({"input_per_mtok": 2.5, "output_per_mtok": "1"}, 422, "VALIDATION_FAILED"),  # float
        ({"input_per_mtok": "-1", "output_per_mtok": "1"}, 422, "VALIDATION_FAILED"),
        (
            {"input_per_mtok": "1", "output_per_mtok": "1", "cache_write_per_mtok": 1.25},
            422,
            "VALIDATION_FAILED",
        ),
        (
            {"input_per_mtok": "1", "output_per_mtok": "1", "cache_write_per_mtok": "-1"},
            422,
            "VALIDATION_FAILED",
        ),
        ({"input_per_mtok": "1", "output_per_mtok": "1", "currency": "usd"}, 422, None),
        (
            {"input_per_mtok": "1", "output_per_mtok": "1", "effective_from": "2030-05-01T00:00"},
            422,
            None,
        ),
        (
            {"input_per_mtok": "9", "output_per_mtok": "9", "effective_from": MAR},
            409,
            "PRICE_EXISTS",
        ),
    ],
)
async def test_a_refused_price_leaves_the_history_unchanged(
    client: httpx.AsyncClient,
    admin_key: str,
    priced: dict[str, Any],
    price: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    prices = f"{MODELS}/{priced['id']}/prices"
    before = await snapshot(client, admin_key, prices, f"{API}/audit")
    assert_error(await client.post(prices, headers=auth(admin_key), json=price), status, code)
    assert await snapshot(client, admin_key, prices, f"{API}/audit") == before
