"""System settings and user preferences over HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from modelyard.registry.system_settings import KNOWN
from tests.api.helpers import (
    API,
    assert_error,
    auth,
    make_member,
    make_model,
    make_provider,
    ok,
    snapshot,
)

SETTINGS, PREFS = f"{API}/settings", f"{API}/users/me/preferences"


async def test_settings_list_every_known_key_with_value_default_and_help(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    listed = ok(await client.get(SETTINGS, headers=auth(admin_key)))
    assert [s["key"] for s in listed] == sorted(KNOWN)
    for setting in listed:
        assert set(setting) == {"key", "value", "default", "is_set", "help"}
        assert setting["help"]
        assert setting["is_set"] is False
        assert setting["value"] == setting["default"]


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("models.deprecated_policy", "reject", "reject"),
        ("gateway.fallback_to_active_provider", False, False),
        ("gateway.retry", {"max_attempts": 2}, {"max_attempts": 2, "base_delay_ms": 500}),
        ("custom.team.budget", {"monthly": [1, 2]}, {"monthly": [1, 2]}),
    ],
)
async def test_setting_with_dots_in_its_key_is_set_read_and_unset(
    client: httpx.AsyncClient, admin_key: str, key: str, value: Any, stored: Any
) -> None:
    path = f"{SETTINGS}/{key}"
    written = ok(await client.put(path, headers=auth(admin_key), json={"value": value}))
    read = ok(await client.get(path, headers=auth(admin_key)))
    assert written == read
    assert read["is_set"] is True
    if isinstance(stored, dict):
        assert stored.items() <= read["value"].items()
    else:
        assert read["value"] == stored
    assert key in {s["key"] for s in ok(await client.get(SETTINGS, headers=auth(admin_key)))}
    unset = ok(await client.delete(path, headers=auth(admin_key)))
    assert (unset["is_set"], unset["value"]) == (False, unset["default"])
    assert_error(await client.delete(path, headers=auth(admin_key)), 409, "SETTING_NOT_SET")


@pytest.mark.parametrize(
    ("method", "key", "body", "status", "code"),
    [
        ("GET", "no.such.key", None, 422, "VALIDATION_FAILED"),
        ("PUT", "no.such.key", {"value": 1}, 422, "VALIDATION_FAILED"),
        ("PUT", "models.deprecated_policy", {"value": "ignore"}, 422, "VALIDATION_FAILED"),
        ("PUT", "gateway.retry", {"value": {"max_attempts": 99}}, 422, "VALIDATION_FAILED"),
        ("PUT", "gateway.retry", {"value": {"retries": 3}}, 422, "VALIDATION_FAILED"),
        ("PUT", "models.deprecated_policy", {"val": "warn"}, 422, "VALIDATION_FAILED"),
        ("PUT", "defaults.chat_model", {"value": "no-slash"}, 422, "VALIDATION_FAILED"),
        ("PUT", "defaults.chat_model", {"value": "openai/missing"}, 422, "VALIDATION_FAILED"),
        ("PUT", "defaults.chat_model", {"value": "openai/old"}, 409, "MODEL_DEPRECATED"),
        ("GET", "custom.never-set", None, 404, "SETTING_NOT_FOUND"),
    ],
)
async def test_refused_setting_changes_nothing(
    client: httpx.AsyncClient,
    admin_key: str,
    method: str,
    key: str,
    body: Any,
    status: int,
    code: str,
) -> None:
    provider = await make_provider(client, admin_key, "openai")
    old = await make_model(client, admin_key, provider["id"], "old")
    ok(await client.post(f"{API}/models/{old['id']}/deprecate", headers=auth(admin_key)))
    before = await snapshot(client, admin_key, SETTINGS, f"{API}/audit")
    response = await client.request(method, f"{SETTINGS}/{key}", headers=auth(admin_key), json=body)
    assert_error(response, status, code)
    assert await snapshot(client, admin_key, SETTINGS, f"{API}/audit") == before


async def test_model_reference_setting_accepts_an_active_system_model(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await make_provider(client, admin_key, "openai")
    await make_model(client, admin_key, provider["id"], "gpt-4o")
    path = f"{SETTINGS}/defaults.chat_model"
    set_ = ok(await client.put(path, headers=auth(admin_key), json={"value": "openai/gpt-4o"}))
    assert (set_["value"], set_["is_set"]) == ("openai/gpt-4o", True)


@pytest.mark.parametrize(("method", "body"), [("PUT", {"value": "reject"}), ("DELETE", None)])
async def test_members_may_read_but_not_change_settings(
    client: httpx.AsyncClient, admin_key: str, method: str, body: Any
) -> None:
    member = await make_member(client, admin_key)
    path = f"{SETTINGS}/models.deprecated_policy"
    ok(await client.put(path, headers=auth(admin_key), json={"value": "warn"}))
    before = await snapshot(client, admin_key, SETTINGS)
    assert ok(await client.get(SETTINGS, headers=member.headers)) == before[0]
    response = await client.request(method, path, headers=member.headers, json=body)
    assert_error(response, 403, "FORBIDDEN")
    assert await snapshot(client, admin_key, SETTINGS) == before


async def test_preferences_start_empty_and_change_only_the_fields_given(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    provider = await make_provider(client, admin_key, "openai")
    model = await make_model(client, admin_key, provider["id"])
    fresh = ok(await client.get(PREFS, headers=member.headers))
    assert (fresh["default_model_id"], fresh["temperature"], fresh["streaming"]) == (
        None,
        None,
        True,
    )
    first = ok(
        await client.put(
            PREFS,
            headers=member.headers,
            json={"temperature": "0.7", "default_model_id": model["id"]},
        )
    )
    second = ok(await client.put(PREFS, headers=member.headers, json={"streaming": False}))
    assert (second["default_model_id"], Decimal(second["temperature"]), second["streaming"]) == (
        model["id"],
        Decimal("0.7"),
        False,
    )
    assert first["user_id"] == second["user_id"] == member.id
    assert ok(await client.get(PREFS, headers=member.headers)) == second


@pytest.mark.parametrize(
    ("make_body", "status", "code"),
    [
        (lambda ids: {"temperature": 2.5}, 422, "VALIDATION_FAILED"),
        (lambda ids: {"temperature": "-0.1"}, 422, "VALIDATION_FAILED"),
        (lambda ids: {"streaming": None}, 422, "VALIDATION_FAILED"),
        (lambda ids: {"theme": "dark"}, 422, "VALIDATION_FAILED"),
        (lambda ids: {"default_model_id": ids["deprecated"]}, 409, "MODEL_DEPRECATED"),
        (lambda ids: {"default_model_id": ids["others"]}, 404, "MODEL_NOT_FOUND"),
    ],
    ids=["too-hot", "negative", "null-streaming", "unknown-field", "deprecated", "others-model"],
)
async def test_refused_preferences_change_nothing(
    client: httpx.AsyncClient, admin_key: str, make_body: Any, status: int, code: str
) -> None:
    member = await make_member(client, admin_key)
    other = await make_member(client, admin_key)
    system = await make_provider(client, admin_key, "openai")
    deprecated = await make_model(client, admin_key, system["id"], "old")
    ok(await client.post(f"{API}/models/{deprecated['id']}/deprecate", headers=auth(admin_key)))
    others = await make_model(client, other.key, (await make_provider(client, other.key))["id"])
    ok(await client.put(PREFS, headers=member.headers, json={"temperature": "1"}))
    before = await snapshot(client, member.key, PREFS)
    body = make_body({"deprecated": deprecated["id"], "others": others["id"]})
    assert_error(await client.put(PREFS, headers=member.headers, json=body), status, code)
    assert await snapshot(client, member.key, PREFS) == before


async def test_a_custom_setting_with_an_integer_beyond_64_bits_is_a_422(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    response = await client.put(
        f"{SETTINGS}/custom.big",
        headers=auth(admin_key) | {"content-type": "application/json"},
        content='{"value": {"n": 18446744073709551616}}',
    )
    error = assert_error(response, 422, "VALIDATION_FAILED")
    assert error["details"]["errors"][0]["path"] == "value[custom.big]"
    assert_error(await client.get(f"{SETTINGS}/custom.big", headers=auth(admin_key)), 404)
