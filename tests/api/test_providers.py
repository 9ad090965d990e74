"""Providers over HTTP: the error shape, pagination, and who may see and manage what."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

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

PROVIDERS = f"{API}/providers"
MISSING = str(uuid.uuid4())

ERROR_CASES = [
    pytest.param("GET", PROVIDERS, None, {}, 401, "UNAUTHENTICATED", id="401-no-key"),
    pytest.param(
        "GET", PROVIDERS, "myk_not-a-real-key", {}, 401, "UNAUTHENTICATED", id="401-invalid-key"
    ),
    pytest.param("GET", PROVIDERS, "sk-foreign", {}, 401, "UNAUTHENTICATED", id="401-foreign-key"),
    pytest.param("GET", f"{API}/nowhere", "admin", {}, 404, "NOT_FOUND", id="404-unknown-route"),
    pytest.param(
        "GET", f"{PROVIDERS}/{MISSING}", "admin", {}, 404, "PROVIDER_NOT_FOUND", id="404-unknown-id"
    ),
    pytest.param(
        "GET", f"{PROVIDERS}/not-a-uuid", "admin", {}, 404, "PROVIDER_NOT_FOUND", id="404-bad-id"
    ),
    pytest.param(
        "POST",
        PROVIDERS,
        "admin",
        {"content": b'{"name": "x",', "headers": {"Content-Type": "application/json"}},
        422,
        "VALIDATION_FAILED",
        id="422-bad-json",
    ),
    pytest.param(
        "POST",
        PROVIDERS,
        "admin",
        {"json": {"name": "x", "kind": "ollama", "timeout_ms": "soon"}},
        422,
        "VALIDATION_FAILED",
        id="422-wrong-type",
    ),
    pytest.param(
        "POST",
        PROVIDERS,
        "admin",
        {"json": {"name": "x", "kind": "ollama", "colour": "red"}},
        422,
        "VALIDATION_FAILED",
        id="422-unknown-field",
    ),
    pytest.param(
        "POST",
        PROVIDERS,
        "admin",
        {"json": {"name": "existing", "kind": "ollama"}},
        409,
        "NAME_TAKEN",
        id="409-name-taken",
    ),
]


@pytest.mark.parametrize(("method", "path", "key", "kwargs", "status", "code"), ERROR_CASES)
async def test_failures_render_the_one_error_shape_and_change_nothing(
    client: httpx.AsyncClient,
    admin_key: str,
    method: str,
    path: str,
    key: str | None,
    kwargs: dict[str, Any],
    status: int,
    code: str,
) -> None:
    await make_provider(client, admin_key, "existing", kind="ollama", api_key=None)
    before = await snapshot(client, admin_key, PROVIDERS)
    headers = dict(kwargs.pop("headers", {}))
    if key is not None:
        headers |= auth(admin_key if key == "admin" else key)
    response = await client.request(method, path, headers=headers, **kwargs)
    error = assert_error(response, status, code)
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    if status == 422:
        assert error["details"]["errors"]
    assert await snapshot(client, admin_key, PROVIDERS) == before


async def test_invalid_kind_is_rejected_with_the_valid_kinds_listed(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    response = await client.post(
        PROVIDERS, headers=auth(admin_key), json={"name": "x", "kind": "openia", "api_key": "k"}
    )
    error = assert_error(response, 422, "VALIDATION_FAILED")
    for kind in ("anthropic", "gemini", "ollama", "openai", "openai_compatible"):
        assert kind in error["message"]
    assert error["details"]["errors"][0]["path"] == "kind"
    assert ok(await client.get(PROVIDERS, headers=auth(admin_key)))["total"] == 0


@pytest.mark.parametrize(
    ("limit", "offset", "names"),
    [(2, 0, ["p0", "p1"]), (2, 2, ["p2"]), (50, 3, []), (1, 1, ["p1"])],
)
async def test_provider_list_pages_with_limit_offset_and_total(
    client: httpx.AsyncClient, admin_key: str, limit: int, offset: int, names: list[str]
) -> None:
    for i in range(3):
        await make_provider(client, admin_key, f"p{i}", kind="ollama", api_key=None)
    page = ok(
        await client.get(
            PROVIDERS, headers=auth(admin_key), params={"limit": limit, "offset": offset}
        )
    )
    assert [p["name"] for p in page["items"]] == names
    assert (page["total"], page["limit"], page["offset"]) == (3, limit, offset)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"offset": -1}])
async def test_out_of_range_paging_is_a_422(
    client: httpx.AsyncClient, admin_key: str, params: dict[str, int]
) -> None:
    error = assert_error(await client.get(PROVIDERS, headers=auth(admin_key), params=params), 422)
    assert error["details"]["errors"][0]["in"] == "query"


async def test_member_sees_system_and_own_providers_only(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    alice = await make_member(client, admin_key)
    bob = await make_member(client, admin_key)
    await make_provider(client, admin_key, "system-openai")
    await make_provider(client, alice.key, "alice-byok")
    await make_provider(client, bob.key, "bob-byok")
    listed = ok(await client.get(PROVIDERS, headers=alice.headers))
    assert sorted((p["name"], p["scope"]) for p in listed["items"]) == [
        ("alice-byok", "user"),
        ("system-openai", "system"),
    ]
    assert listed["total"] == 2
    system = next(p for p in listed["items"] if p["scope"] == "system")
    assert system["api_key"] is None  # only those who manage a provider see its key hint
    assert ok(await client.get(PROVIDERS, headers=auth(admin_key)))["total"] == 3


async def test_other_members_provider_and_its_models_are_not_found(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    alice = await make_member(client, admin_key)
    bob = await make_member(client, admin_key)
    provider = await make_provider(client, alice.key, "alice-byok")
    model = await make_model(client, alice.key, provider["id"])
    before = await snapshot(
        client, alice.key, f"{PROVIDERS}/{provider['id']}", f"{API}/models/{model['id']}"
    )
    for method, path, body in [
        ("GET", f"{PROVIDERS}/{provider['id']}", None),
        ("GET", f"{PROVIDERS}/{provider['id']}/models", None),
        ("PATCH", f"{PROVIDERS}/{provider['id']}", {"description": "mine now"}),
        ("DELETE", f"{PROVIDERS}/{provider['id']}", None),
        ("POST", f"{PROVIDERS}/{provider['id']}/disable", None),
    ]:
        assert_error(
            await client.request(method, path, headers=bob.headers, json=body),
            404,
            "PROVIDER_NOT_FOUND",
        )
    for method, path in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/deprecate")]:
        response = await client.request(
            method, f"{API}/models/{model['id']}{path}", headers=bob.headers, json={}
        )
        assert_error(response, 404, "MODEL_NOT_FOUND")
    assert ok(await client.get(f"{API}/models", headers=bob.headers))["total"] == 0
    assert (
        await snapshot(
            client, alice.key, f"{PROVIDERS}/{provider['id']}", f"{API}/models/{model['id']}"
        )
        == before
    )


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"description": "hijacked"}),
        ("DELETE", "", None),
        ("POST", "/disable", None),
        ("POST", "/set-default", None),
        ("PUT", "/api-key", {"api_key": "sk-member-0123456789"}),
    ],
)
async def test_member_may_not_change_a_system_provider(
    client: httpx.AsyncClient, admin_key: str, method: str, suffix: str, body: Any
) -> None:
    member = await make_member(client, admin_key)
    provider = await make_provider(client, admin_key, "system-openai")
    path = f"{PROVIDERS}/{provider['id']}"
    before = await snapshot(client, admin_key, path)
    response = await client.request(method, path + suffix, headers=member.headers, json=body)
    assert_error(response, 403, "FORBIDDEN")
    assert await snapshot(client, admin_key, path) == before


async def test_member_may_not_create_a_system_provider(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    response = await client.post(
        PROVIDERS,
        headers=member.headers,
        json={"name": "sys", "kind": "ollama", "owner": "system"},
    )
    assert_error(response, 403, "FORBIDDEN")
    assert ok(await client.get(PROVIDERS, headers=auth(admin_key)))["total"] == 0


async def test_member_creates_and_manages_an_own_byok_provider(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    created = await make_provider(client, member.key, "my-openai", api_key="sk-mine-0123456789wxyz")
    assert (created["scope"], created["owner_user_id"]) == ("user", member.id)
    assert created["api_key"] == "sk-...wxyz"
    path = f"{PROVIDERS}/{created['id']}"
    patched = ok(await client.patch(path, headers=member.headers, json={"rpm_limit": 60}))
    assert patched["rpm_limit"] == 60
    assert patched["config_version"] == created["config_version"] + 1
    rotated = ok(
        await client.put(
            f"{path}/api-key", headers=member.headers, json={"api_key": "sk-new-0123456789abcd"}
        )
    )
    assert rotated["api_key"] == "sk-...abcd"
    assert ok(await client.post(f"{path}/set-default", headers=member.headers))["is_default"]
    disabled = ok(await client.post(f"{path}/disable", headers=member.headers))
    assert (disabled["enabled"], disabled["is_default"]) == (False, False)
    ok(await client.delete(path, headers=member.headers), 204)
    assert_error(await client.get(path, headers=member.headers), 404, "PROVIDER_NOT_FOUND")
