"""No input gets a 500: inputs past what their column holds are a 422 naming the field, and
nothing changes. One test per kind of input schemathesis found crashing the admin API
(integers past the column, huge offsets, times that overflow UTC, null for NOT NULL fields,
text no database stores, Decimal extremes), plus the OpenAPI facts that keep it so."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.helpers import API, assert_error, auth, make_member, make_model, ok, snapshot

USERS, KEYS, PLANS, MODELS = f"{API}/users", f"{API}/keys", f"{API}/plans", f"{API}/models"
PROVIDERS, AUDIT, USAGE = f"{API}/providers", f"{API}/audit", f"{API}/usage"
INT32_PAST = 2**31
FAR_WEST_END_OF_TIME = "9999-12-31T23:00:00-14:00"  # 10000-01-01T13:00Z: no datetime holds it
FAR_EAST_START_OF_TIME = "0001-01-01T00:30:00+14:00"  # before year 1 in UTC


def named(error: dict[str, Any]) -> list[str]:
    return [e["path"] for e in error["details"]["errors"]]


async def _me(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    me: dict[str, Any] = ok(await client.get(f"{USERS}/me", headers=auth(key)))
    return me


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (KEYS, {"name": "k", "rpm_limit": INT32_PAST}, "rpm_limit"),
        (KEYS, {"name": "k", "tpm_limit": -1}, "tpm_limit"),
        (PROVIDERS, {"name": "p", "kind": "fake", "rpm_limit": INT32_PAST}, "rpm_limit"),
        (PLANS, {"name": "big", "monthly_credits": "1", "tpm_limit": INT32_PAST}, "tpm_limit"),
        (USERS, {"email": "big@example.com", "rpm_limit": INT32_PAST}, "rpm_limit"),
        (MODELS, {"provider_id": "{provider}", "model_id": "m", "context_window": 2**70}, None),
        (MODELS, {"provider_id": "{provider}", "model_id": "m", "max_output_tokens": 2**63}, None),
    ],
)
async def test_integers_past_their_column_are_refused_naming_the_field(
    client: httpx.AsyncClient,
    admin_key: str,
    provider: dict[str, Any],
    path: str,
    body: dict[str, Any],
    field: str | None,
) -> None:
    body = {k: provider["id"] if v == "{provider}" else v for k, v in body.items()}
    field = field or next(k for k, v in body.items() if isinstance(v, int))
    before = await snapshot(client, admin_key, f"{USERS}?limit=500", f"{MODELS}?limit=500")
    error = assert_error(
        await client.post(path, headers=auth(admin_key), json=body), 422, "VALIDATION_FAILED"
    )
    assert named(error) == [field]
    assert await snapshot(client, admin_key, f"{USERS}?limit=500", f"{MODELS}?limit=500") == before


async def test_the_largest_integer_a_column_holds_is_accepted(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    body = {"email": "edge@example.com", "rpm_limit": INT32_PAST - 1}
    user = ok(await client.post(USERS, headers=auth(admin_key), json=body), 201)
    assert ok(await client.get(f"{USERS}/{user['id']}", headers=auth(admin_key)))["rpm_limit"] == (
        INT32_PAST - 1
    )
    error = assert_error(
        await client.patch(
            f"{USERS}/{user['id']}", headers=auth(admin_key), json={"tpm_limit": INT32_PAST}
        ),
        422,
    )
    assert named(error) == ["tpm_limit"]


async def test_every_paged_list_refuses_an_offset_no_database_can_skip(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    spec = ok(await client.get("/openapi.json"))
    paged = [
        path
        for path, ops in spec["paths"].items()
        if "get" in ops
        and "{" not in path
        and any(p["name"] == "offset" for p in ops["get"].get("parameters", []))
    ]
    assert len(paged) >= 5, paged
    for path in paged:
        error = assert_error(
            await client.get(path, headers=auth(admin_key), params={"offset": 2**63}), 422
        )
        assert named(error) == ["offset"], path
        page = ok(await client.get(path, headers=auth(admin_key), params={"offset": 2**63 - 1}))
        assert page["items"] == [], path


@pytest.mark.parametrize("instant", [FAR_WEST_END_OF_TIME, FAR_EAST_START_OF_TIME])
async def test_times_that_overflow_utc_are_refused_naming_the_field(
    client: httpx.AsyncClient, admin_key: str, provider: dict[str, Any], instant: str
) -> None:
    model = await make_model(client, admin_key, provider["id"], "gpt-4o")
    price = {"input_per_mtok": "1", "output_per_mtok": "2", "effective_from": instant}
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", KEYS, {"json": {"name": "k", "expires_at": instant}}, "expires_at"),
        ("POST", f"{MODELS}/{model['id']}/prices", {"json": price}, "effective_from"),
        ("GET", f"{MODELS}/{model['id']}/price", {"params": {"at": instant}}, "at"),
        ("GET", AUDIT, {"params": {"since": instant}}, "since"),
        ("GET", USAGE, {"params": {"until": instant}}, "until"),
        ("GET", f"{USAGE}/events", {"params": {"since": instant}}, "since"),
    ]
    for method, path, request, field in cases:
        response = await client.request(method, path, headers=auth(admin_key), **request)
        error = assert_error(response, 422, "VALIDATION_FAILED")
        assert named(error) == [field], (method, path)
        assert "year" in error["message"]
    assert ok(await client.get(f"{MODELS}/{model['id']}/prices", headers=auth(admin_key))) == []


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ("user", "email"),
        ("user", "role"),
        ("user", "status"),
        ("user", "display_name"),
        ("user", "email_verified"),
        ("model", "display_name"),
        ("model", "capabilities"),
        ("plan", "monthly_credits"),
        ("plan", "rollover"),
        ("provider", "timeout_ms"),
    ],
)
async def test_null_for_a_field_whose_column_is_not_null_is_refused_and_nothing_changes(
    client: httpx.AsyncClient,
    admin_key: str,
    provider: dict[str, Any],
    target: str,
    field: str,
) -> None:
    if target == "user":
        path = f"{USERS}/{(await make_member(client, admin_key)).id}"
    elif target == "model":
        path = f"{MODELS}/{(await make_model(client, admin_key, provider['id']))['id']}"
    elif target == "plan":
        plan = {"name": "team", "monthly_credits": "10"}
        path = (
            f"{PLANS}/{ok(await client.post(PLANS, headers=auth(admin_key), json=plan), 201)['id']}"
        )
    else:
        path = f"{PROVIDERS}/{provider['id']}"
    before = await snapshot(client, admin_key, path)
    error = assert_error(
        await client.patch(path, headers=auth(admin_key), json={field: None}),
        422,
        "VALIDATION_FAILED",
    )
    assert named(error) == [field]
    assert "null" in error["message"]
    assert await snapshot(client, admin_key, path) == before


async def test_fields_that_may_be_cleared_still_take_null(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    body = {"email": "limited@example.com", "rpm_limit": 5}
    user = ok(await client.post(USERS, headers=auth(admin_key), json=body), 201)
    cleared = ok(
        await client.patch(
            f"{USERS}/{user['id']}", headers=auth(admin_key), json={"rpm_limit": None}
        )
    )
    assert cleared["rpm_limit"] is None


def test_the_openapi_does_not_offer_null_where_it_is_refused() -> None:
    from modelyard.registry.users import UserUpdate

    props = UserUpdate.model_json_schema()["properties"]
    assert props["email"] == {"title": "Email", "type": "string"}
    assert {"type": "null"} in props["rpm_limit"]["anyOf"]


def _body(**fields: Any) -> dict[str, Any]:
    return {"json": fields}


def _provider(**fields: Any) -> dict[str, Any]:
    return _body(name="n", kind="fake", **fields)


@pytest.mark.parametrize(
    ("method", "path", "request_", "where", "field"),
    [
        ("POST", USERS, _body(email="n@x.org", display_name="a\x00b"), "body", "display_name"),
        ("POST", USERS, _body(email="s@x.org", display_name="\ud800"), "body", "display_name"),
        ("POST", PROVIDERS, _provider(config={"reply": "\x00"}), "body", "config"),
        ("POST", PROVIDERS, _provider(custom_headers={"X\x00": "v"}), "body", "custom_headers"),
        ("GET", PROVIDERS, {"params": {"kind": "a\x00"}}, "query", "kind"),
        ("GET", AUDIT, {"params": {"action": "\x00"}}, "query", "action"),
        ("GET", f"{PLANS}/a%00b", {}, "path", "plan"),
    ],
)  # fmt: skip
async def test_text_no_database_stores_is_refused_naming_the_field(
    client: httpx.AsyncClient,
    admin_key: str,
    method: str,
    path: str,
    request_: dict[str, Any],
    where: str,
    field: str,
) -> None:
    if "json" in request_:  # sent as JSON escapes, the way a client would send them
        import json

        request_ = {
            "content": json.dumps(request_["json"]).encode(),
            "headers": {"Content-Type": "application/json"},
        }
    headers = auth(admin_key) | request_.pop("headers", {})
    before = await snapshot(client, admin_key, f"{USERS}?limit=500", PROVIDERS)
    error = assert_error(await client.request(method, path, headers=headers, **request_), 422)
    assert named(error) == [field]
    if where != "body":
        assert error["details"]["errors"][0]["in"] == where
    assert any(word in error["message"] for word in ("NUL", "surrogate", "unicode"))
    assert await snapshot(client, admin_key, f"{USERS}?limit=500", PROVIDERS) == before


@pytest.mark.parametrize(
    ("price", "credits"),
    [
        ("1e400", "1e400"),
        ("NaN", "NaN"),
        ("Infinity", "-Infinity"),
        ("-0.0000001", "-1"),
        ("0.00000000001", "0.0000001"),  # past the column's decimal places
        ("10000001", "1e13"),  # past the column's digits (Money 20,10; micro-credits int64)
    ],
)
async def test_decimal_extremes_are_refused_naming_the_field(
    client: httpx.AsyncClient, admin_key: str, provider: dict[str, Any], price: str, credits: str
) -> None:
    model = await make_model(client, admin_key, provider["id"])
    path = f"{MODELS}/{model['id']}/prices"
    body = {"input_per_mtok": price, "output_per_mtok": "1"}
    error = assert_error(await client.post(path, headers=auth(admin_key), json=body), 422)
    assert named(error) == ["input_per_mtok"]
    user = await make_member(client, admin_key)
    grant = {"user_id": user.id, "amount": credits}
    error = assert_error(
        await client.post(f"{API}/credits/grants", headers=auth(admin_key), json=grant), 422
    )
    assert named(error) == ["amount"]
    assert ok(await client.get(path, headers=auth(admin_key))) == []


async def test_a_method_the_path_lacks_is_a_405_whose_allow_names_every_method(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    me = await _me(client, admin_key)
    response = await client.put(f"{USERS}/{me['id']}", headers=auth(admin_key), json={})
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}


async def test_every_operation_lists_its_errors_with_the_error_schema(
    client: httpx.AsyncClient,
) -> None:
    spec = ok(await client.get("/openapi.json"))
    error_ref = {"$ref": "#/components/schemas/Error"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if not path.startswith(API):
                continue
            expected = {"401", "403", "503"}
            if operation.get("parameters") or "requestBody" in operation:
                expected |= {"404", "422"}
            if "requestBody" in operation:
                expected |= {"400", "408"}  # not JSON; not all there in time
            if method in {"post", "put", "patch", "delete"}:
                expected |= {"404", "409"}
            errors = {s for s in responses if s.startswith(("4", "5"))}
            assert errors == expected, (method, path)
            for status in errors:
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == error_ref, (method, path, status)


def _integers(node: Any, where: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if node.get("type") == "integer":
            found.append((where, node))
        for key, value in node.items():
            found += _integers(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _integers(value, f"{where}[{index}]")
    return found


async def test_every_integer_an_operation_takes_is_bounded(client: httpx.AsyncClient) -> None:
    """The next unbounded integer input is caught here, before anyone stores 2^63."""
    spec = ok(await client.get("/openapi.json"))
    inputs: list[Any] = [
        [op.get("parameters", []), op.get("requestBody", {})]
        for ops in spec["paths"].values()
        for op in ops.values()
    ]
    used = {
        name
        for name, schema in spec["components"]["schemas"].items()
        if f'"#/components/schemas/{name}"' in str(inputs).replace("'", '"')
        or name.endswith(("Create", "Update", "Spec", "Body", "Filter"))
    }
    integers = _integers(inputs) + [
        hit for name in sorted(used) for hit in _integers(spec["components"]["schemas"][name], name)
    ]
    assert integers
    for where, schema in integers:
        assert schema.get("minimum", schema.get("exclusiveMinimum", -(2**64))) >= -(2**63), where
        assert schema.get("maximum", schema.get("exclusiveMaximum", 2**64)) <= 2**63 - 1, where


async def test_an_admin_with_the_longest_email_can_still_act(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    """``user:<email>`` labels every write the user makes (audit, ledger, grants: 200
    characters) while an email may have 320: the label is cut to fit, the id stays whole."""
    email = f"{'a' * 300}@example.com"
    admin = await make_member(client, admin_key, role="admin")
    ok(await client.patch(f"{USERS}/{admin.id}", headers=auth(admin_key), json={"email": email}))
    created = ok(
        await client.post(USERS, headers=admin.headers, json={"email": "new@example.com"}), 201
    )
    grant = {"user_id": created["id"], "amount": "5"}
    ok(await client.post(f"{API}/credits/grants", headers=admin.headers, json=grant), 201)
    events = ok(await client.get(AUDIT, headers=auth(admin_key), params={"actor_id": admin.id}))
    assert events["items"]
    for event in events["items"]:
        assert event["actor_label"] == f"user:{email}"[:200]
