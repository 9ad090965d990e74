"""Plans and subscriptions over HTTP: who sees what, who may change what, bad input refused
with nothing changed, every change audited. (Credits and the renewal job:
test_billing_credits_api.py.)"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.billing_helpers import AUDIT, CREDITS, PLANS, SUBS, actions, paths, subscribe
from tests.api.helpers import assert_error, auth, make_member, ok, snapshot

# -- plans ---------------------------------------------------------------------------------


async def test_members_see_active_plans_and_admins_retired_ones_too(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    names = [p["name"] for p in ok(await client.get(PLANS, headers=member.headers))]
    assert names == ["free", "pro", "enterprise"]
    pro = ok(await client.get(f"{PLANS}/pro", headers=member.headers))
    assert (pro["monthly_credits"], pro["rollover"], pro["rollover_cap"]) == (
        "10000",
        "capped",
        "5000",
    )
    assert ok(await client.get(f"{PLANS}/{pro['id']}", headers=member.headers)) == pro

    body = {"name": "team", "monthly_credits": 2500.5, "allowed_models": ["gpt-4o"]}
    team = ok(await client.post(PLANS, headers=auth(admin_key), json=body), 201)
    assert (team["display_name"], team["monthly_credits"], team["active"]) == (
        "team",
        "2500.5",
        True,
    )
    changed = ok(
        await client.patch(
            f"{PLANS}/team",
            headers=auth(admin_key),
            json={"rollover": "capped", "rollover_cap": "100", "rpm_limit": 60},
        )
    )
    assert (changed["rollover"], changed["rollover_cap"], changed["rpm_limit"]) == (
        "capped",
        "100",
        60,
    )
    retired = ok(
        await client.patch(f"{PLANS}/{team['id']}", headers=auth(admin_key), json={"active": False})
    )
    assert retired["active"] is False

    everyone = {"include_inactive": "true"}
    assert "team" not in [p["name"] for p in ok(await client.get(PLANS, headers=member.headers))]
    assert "team" not in [
        p["name"] for p in ok(await client.get(PLANS, headers=member.headers, params=everyone))
    ]
    assert "team" in [
        p["name"] for p in ok(await client.get(PLANS, headers=auth(admin_key), params=everyone))
    ]
    assert_error(await client.get(f"{PLANS}/team", headers=member.headers), 404, "PLAN_NOT_FOUND")
    assert ok(await client.get(f"{PLANS}/team", headers=auth(admin_key)))["active"] is False
    assert {"plan.create", "plan.update"} <= set(await actions(client, admin_key))


async def test_amounts_given_as_json_numbers_are_read_exactly(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    """A float would turn 123456789012.123456 into 123456789012.12346."""
    raw = b'{"name": "exact", "monthly_credits": 123456789012.123456}'
    headers = auth(admin_key) | {"content-type": "application/json"}
    plan = ok(await client.post(PLANS, headers=headers, content=raw), 201)
    assert plan["monthly_credits"] == "123456789012.123456"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", PLANS, {"name": "team", "monthly_credits": "1"}),
        ("PATCH", f"{PLANS}/pro", {"monthly_credits": "1"}),
        ("PATCH", f"{PLANS}/free", {"active": False}),
    ],
)
async def test_members_may_not_change_plans(
    client: httpx.AsyncClient, admin_key: str, method: str, path: str, body: Any
) -> None:
    member = await make_member(client, admin_key)
    state = [f"{PLANS}?include_inactive=true", f"{AUDIT}?limit=1"]
    before = await snapshot(client, admin_key, *state)
    response = await client.request(method, path, headers=member.headers, json=body)
    assert_error(response, 403, "FORBIDDEN")
    assert await snapshot(client, admin_key, *state) == before


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "field"),
    [
        ("POST", PLANS, {"name": "x", "monthly_credits": "-1"}, 422, None, "monthly_credits"),
        (
            "POST",
            PLANS,
            {"name": "x", "monthly_credits": "1.0000001"},
            422,
            None,
            "monthly_credits",
        ),
        ("POST", PLANS, {"name": "x", "monthly_credits": 1.0000001}, 422, None, "monthly_credits"),
        ("POST", PLANS, {"name": "Bad Name", "monthly_credits": "1"}, 422, None, "name"),
        ("POST", PLANS, {"name": "x"}, 422, None, "monthly_credits"),
        ("POST", PLANS, {"name": "x", "monthly_credits": "1", "price": 3}, 422, None, "price"),
        (
            "POST",
            PLANS,
            {"name": "x", "monthly_credits": "1", "rollover": "sometimes"},
            422,
            None,
            "rollover",
        ),
        ("POST", PLANS, {"name": "pro", "monthly_credits": "1"}, 409, "NAME_TAKEN", None),
        ("PATCH", f"{PLANS}/pro", {"rollover_cap": "-5"}, 422, None, "rollover_cap"),
        ("PATCH", f"{PLANS}/free", {"rollover": "capped"}, 422, None, "rollover_cap"),
        ("PATCH", f"{PLANS}/nope", {"active": False}, 404, "PLAN_NOT_FOUND", None),
    ],
)
async def test_bad_plans_are_refused_and_nothing_changes(
    client: httpx.AsyncClient,
    admin_key: str,
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str | None,
    field: str | None,
) -> None:
    state = [f"{PLANS}?include_inactive=true", f"{AUDIT}?limit=1"]
    before = await snapshot(client, admin_key, *state)
    error = assert_error(
        await client.request(method, path, headers=auth(admin_key), json=body), status, code
    )
    if field is not None:
        assert field in paths(error), error
        assert field in error["message"]
    assert await snapshot(client, admin_key, *state) == before


# -- subscriptions -------------------------------------------------------------------------


async def test_a_subscription_through_its_states(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    sub = await subscribe(client, admin_key, member)
    assert (sub["user_id"], sub["plan"], sub["status"]) == (member.id, "pro", "active")
    assert sub["cancel_at_period_end"] is False
    balance = ok(await client.get(CREDITS, headers=member.headers))
    assert (balance["balance"], balance["available"]) == ("10000", "10000")
    assert [g["source"] for g in balance["grants"]] == ["plan"]

    path, admin = f"{SUBS}/{sub['id']}", auth(admin_key)
    suspended = ok(await client.patch(path, headers=admin, json={"status": "suspended"}))
    assert suspended["status"] == "suspended"
    assert ok(await client.patch(path, headers=admin, json={"status": "active"}))["status"] == (
        "active"
    )
    changed = ok(
        await client.patch(
            path,
            headers=admin,
            json={
                "cancel_at_period_end": True,
                "plan": "enterprise",
                "external_customer_id": "cus_123",
                "external_subscription_id": "sub_456",
            },
        )
    )
    assert (changed["plan"], changed["cancel_at_period_end"]) == ("enterprise", True)
    assert (changed["external_customer_id"], changed["external_subscription_id"]) == (
        "cus_123",
        "sub_456",
    )
    cancelled = ok(await client.patch(path, headers=admin, json={"status": "cancelled"}))
    assert cancelled["status"] == "cancelled"
    assert cancelled["ended_at"] is not None
    assert ok(await client.get(path, headers=member.headers)) == cancelled

    events = await actions(client, admin_key)
    for action in (
        "subscription.create",
        "credits.grant",
        "subscription.suspended",
        "subscription.active",
        "subscription.update",
        "subscription.cancelled",
    ):
        assert action in events
    again = await subscribe(client, admin_key, member, "free")  # cancelled is no longer current
    assert again["plan"] == "free"


@pytest.mark.parametrize(
    ("first", "then", "allowed"),
    [
        ("cancelled", "active", []),
        ("cancelled", "suspended", []),
    ],
)
async def test_an_illegal_transition_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, admin_key: str, first: str, then: str, allowed: list[str]
) -> None:
    member = await make_member(client, admin_key)
    sub = await subscribe(client, admin_key, member)
    path = f"{SUBS}/{sub['id']}"
    ok(await client.patch(path, headers=auth(admin_key), json={"status": first}))
    state = [path, f"{CREDITS}?user_id={member.id}", f"{AUDIT}?limit=1"]
    before = await snapshot(client, admin_key, *state)
    error = assert_error(
        await client.patch(path, headers=auth(admin_key), json={"status": then}),
        409,
        "INVALID_TRANSITION",
    )
    assert error["details"] == {"from": first, "to": then, "allowed": allowed}
    assert first in error["message"]
    assert then in error["message"]
    assert await snapshot(client, admin_key, *state) == before


async def test_members_see_only_their_own_subscriptions(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    alice = await make_member(client, admin_key)
    bob = await make_member(client, admin_key)
    mine = await subscribe(client, admin_key, alice)
    theirs = await subscribe(client, admin_key, bob, "free")

    for params in ({}, {"user_id": bob.id}):
        page = ok(await client.get(SUBS, headers=alice.headers, params=params))
        assert ([s["id"] for s in page["items"]], page["total"]) == ([mine["id"]], 1)
    assert ok(await client.get(f"{SUBS}/{mine['id']}", headers=alice.headers)) == mine
    assert_error(
        await client.get(f"{SUBS}/{theirs['id']}", headers=alice.headers),
        404,
        "SUBSCRIPTION_NOT_FOUND",
    )
    assert_error(
        await client.get(f"{SUBS}/not-an-id", headers=alice.headers), 404, "SUBSCRIPTION_NOT_FOUND"
    )

    admin = auth(admin_key)
    assert ok(await client.get(SUBS, headers=admin))["total"] == 2
    only_bob = ok(await client.get(SUBS, headers=admin, params={"user_id": bob.id}))
    assert [s["id"] for s in only_bob["items"]] == [theirs["id"]]
    ok(await client.patch(f"{SUBS}/{theirs['id']}", headers=admin, json={"status": "suspended"}))
    suspended = ok(await client.get(SUBS, headers=admin, params={"status": "suspended"}))
    assert [s["id"] for s in suspended["items"]] == [theirs["id"]]
    first = ok(await client.get(SUBS, headers=admin, params={"limit": 1, "offset": 1}))
    assert (len(first["items"]), first["total"], first["limit"], first["offset"]) == (1, 2, 1, 1)
    assert first["items"][0]["id"] == mine["id"]  # newest first: bob's came second
    error = assert_error(await client.get(SUBS, headers=admin, params={"status": "paused"}), 422)
    assert paths(error) == ["status"]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("POST", "", {"user_id": "{member}", "plan": "free"}),
        ("PATCH", "/{sub}", {"status": "suspended"}),
        ("PATCH", "/{sub}", {"cancel_at_period_end": True}),
    ],
)
async def test_members_may_not_change_subscriptions(
    client: httpx.AsyncClient, admin_key: str, method: str, suffix: str, body: dict[str, Any]
) -> None:
    member = await make_member(client, admin_key)
    other = await make_member(client, admin_key)
    sub = await subscribe(client, admin_key, member)
    state = [SUBS, f"{CREDITS}?user_id={member.id}", f"{AUDIT}?limit=1"]
    before = await snapshot(client, admin_key, *state)
    payload = {k: v.format(member=other.id) if isinstance(v, str) else v for k, v in body.items()}
    response = await client.request(
        method, SUBS + suffix.format(sub=sub["id"]), headers=member.headers, json=payload
    )
    assert_error(response, 403, "FORBIDDEN")
    assert await snapshot(client, admin_key, *state) == before


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"plan": "nope"}, 404, "PLAN_NOT_FOUND", None),
        ({"plan": "pro"}, 409, "SUBSCRIPTION_EXISTS", None),
        ({"plan": "retired"}, 409, "PLAN_INACTIVE", None),
        (
            {"plan": "pro", "user_id": "00000000-0000-4000-8000-000000000000"},
            404,
            "USER_NOT_FOUND",
            None,
        ),
        ({"plan": "pro", "user_id": "bob"}, 422, "VALIDATION_FAILED", "user_id"),
        ({"plan": ""}, 422, "VALIDATION_FAILED", "plan"),
        ({"plan": "pro", "status": "active"}, 422, "VALIDATION_FAILED", "status"),
    ],
)
async def test_bad_subscriptions_are_refused_and_nothing_changes(
    client: httpx.AsyncClient,
    admin_key: str,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    admin = auth(admin_key)
    ok(
        await client.post(PLANS, headers=admin, json={"name": "retired", "monthly_credits": "1"}),
        201,
    )
    ok(await client.patch(f"{PLANS}/retired", headers=admin, json={"active": False}))
    member = await make_member(client, admin_key)
    other = await make_member(client, admin_key)
    await subscribe(client, admin_key, other)  # `other` has a current subscription already
    state = [SUBS, f"{CREDITS}?user_id={other.id}", f"{AUDIT}?limit=1"]
    before = await snapshot(client, admin_key, *state)
    user = other.id if code == "SUBSCRIPTION_EXISTS" else member.id
    error = assert_error(
        await client.post(SUBS, headers=admin, json={"user_id": user} | body), status, code
    )
    if field is not None:
        assert field in paths(error)
    assert await snapshot(client, admin_key, *state) == before
    assert ok(await client.get(SUBS, headers=admin, params={"user_id": member.id}))["total"] == 0


async def test_bad_subscription_changes_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    sub = await subscribe(client, admin_key, member)
    path, admin = f"{SUBS}/{sub['id']}", auth(admin_key)
    state = [path, f"{AUDIT}?limit=1"]
    before = await snapshot(client, admin_key, *state)
    for body, status, code in (
        ({"status": "expired"}, 422, "VALIDATION_FAILED"),  # only the renewal job expires
        ({"plan": "nope"}, 404, "PLAN_NOT_FOUND"),
        ({"cancel_at_period_end": "maybe"}, 422, "VALIDATION_FAILED"),
        ({"user_id": member.id}, 422, "VALIDATION_FAILED"),
    ):
        assert_error(await client.patch(path, headers=admin, json=body), status, code)
    missing = f"{SUBS}/00000000-0000-4000-8000-000000000000"
    assert_error(await client.patch(missing, headers=admin, json={}), 404, "SUBSCRIPTION_NOT_FOUND")
    assert await snapshot(client, admin_key, *state) == before


async def test_broken_json_is_refused_clearly(client: httpx.AsyncClient, admin_key: str) -> None:
    headers = auth(admin_key) | {"content-type": "application/json"}
    before = await snapshot(client, admin_key, f"{PLANS}?include_inactive=true")
    for raw in (b'{"name": "x", "monthly_credits": ', b'{"name": "x", "monthly_credits": NaN}'):
        assert_error(await client.post(PLANS, headers=headers, content=raw), 422)
    assert await snapshot(client, admin_key, f"{PLANS}?include_inactive=true") == before


async def test_openapi_lists_the_billing_routes_with_typed_bodies(
    client: httpx.AsyncClient,
) -> None:
    spec = ok(await client.get("/openapi.json"))
    routes = {
        "/api/v1/plans": {"get", "post"},
        "/api/v1/plans/{plan}": {"get", "patch"},
        "/api/v1/subscriptions": {"get", "post"},
        "/api/v1/subscriptions/{subscription_id}": {"get", "patch"},
        "/api/v1/credits": {"get"},
        "/api/v1/credits/ledger": {"get"},
        "/api/v1/credits/grants": {"post"},
        "/api/v1/credits/adjustments": {"post"},
        "/api/v1/billing/renew": {"post"},
    }
    for path, methods in routes.items():
        assert methods == set(spec["paths"][path]), path
    schemas = spec["components"]["schemas"]
    for name in ("PlanCreate", "PlanUpdate", "SubscriptionCreate", "GrantCreate", "Adjustment"):
        assert name in schemas
    grant = spec["paths"]["/api/v1/credits/grants"]["post"]["requestBody"]["content"]
    assert grant["application/json"]["schema"] == {"$ref": "#/components/schemas/GrantCreate"}
