"""Subscriptions over GraphQL: the connection with REST's filters, one subscription, create
and update (suspend, resume, cancel, change plan), each with its plan through a dataloader;
members see only their own, and REST's errors for bad changes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.billing_helpers import PLANS, SUBS, actions, subscribe
from tests.api.graphql.billing_gql import (
    BALANCE,
    SUB_FIELDS,
    UPDATE_SUB,
    billing_state,
    instants,
    rest_sub,
    subscribe_gql,
)
from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import assert_error, auth, make_member, ok

LIST = f"""query($first: Int, $after: String, $userId: ID, $status: SubscriptionStatus) {{
  subscriptions(first: $first, after: $after, userId: $userId, status: $status) {{
    totalCount
    pageInfo {{ hasNextPage hasPreviousPage endCursor }}
    edges {{ cursor node {{ id }} }}
    nodes {{ {SUB_FIELDS} plan {{ id name monthlyCredits active }} }}
  }}
}}"""
ONE = f"query($id: ID!) {{ subscription(id: $id) {{ {SUB_FIELDS} plan {{ name }} }} }}"
NOBODY = "00000000-0000-4000-8000-000000000000"


async def test_a_subscription_through_its_states(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    sub = await subscribe_gql(client, admin_key, member)
    assert (sub["userId"], sub["planName"], sub["status"]) == (member.id, "pro", "ACTIVE")
    assert sub["plan"] == {"name": "pro", "monthlyCredits": "10000"}
    assert rest_sub(sub) == instants(
        ok(await client.get(f"{SUBS}/{sub['id']}", headers=member.headers))
    )
    balance = (await data(client, member.key, BALANCE))["creditBalance"]
    assert (balance["balance"], balance["available"]) == ("10000", "10000")
    assert [g["source"] for g in balance["grants"]] == ["PLAN"]

    async def update(**changes: Any) -> dict[str, Any]:
        variables = {"id": sub["id"], "input": changes}
        found: dict[str, Any] = (await data(client, admin_key, UPDATE_SUB, variables))[
            "updateSubscription"
        ]
        return found

    assert (await update(status="SUSPENDED"))["status"] == "SUSPENDED"
    assert (await update(status="ACTIVE"))["status"] == "ACTIVE"
    changed = await update(
        cancelAtPeriodEnd=True,
        plan="enterprise",
        externalCustomerId="cus_123",
        externalSubscriptionId="sub_456",
    )
    assert (changed["planName"], changed["plan"], changed["cancelAtPeriodEnd"]) == (
        "enterprise",
        {"name": "enterprise"},
        True,
    )
    assert (changed["externalCustomerId"], changed["externalSubscriptionId"]) == (
        "cus_123",
        "sub_456",
    )
    cleared = await update(externalCustomerId=None)
    assert cleared["externalCustomerId"] is None
    cancelled = await update(status="CANCELLED")
    assert (cancelled["status"], cancelled["endedAt"] is not None) == ("CANCELLED", True)
    mine = (await data(client, member.key, ONE, {"id": sub["id"]}))["subscription"]
    assert mine == {k: v for k, v in cancelled.items() if k in mine}
    assert rest_sub(mine) == instants(
        ok(await client.get(f"{SUBS}/{sub['id']}", headers=member.headers))
    )

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
    again = await subscribe_gql(client, admin_key, member, "free")  # cancelled: not current
    assert again["planName"] == "free"


async def test_members_see_only_their_own_subscriptions(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    alice = await make_member(client, admin_key)
    bob = await make_member(client, admin_key)
    mine = await subscribe(client, admin_key, alice)
    theirs = await subscribe(client, admin_key, bob, "free")

    for variables in ({}, {"userId": bob.id}):
        page = (await data(client, alice.key, LIST, variables))["subscriptions"]
        assert ([s["id"] for s in page["nodes"]], page["totalCount"]) == ([mine["id"]], 1)
        assert page["nodes"][0]["plan"]["name"] == "pro"
    assert (await data(client, alice.key, ONE, {"id": mine["id"]}))["subscription"]["id"] == (
        mine["id"]
    )
    for wrong in (theirs["id"], "not-an-id", NOBODY):
        found = await error(client, alice.key, ONE, {"id": wrong}, code="SUBSCRIPTION_NOT_FOUND")
        assert (found["extensions"]["status"], found["path"]) == (404, ["subscription"])
        assert theirs["user_id"] not in str(found)

    everyone = (await data(client, admin_key, LIST))["subscriptions"]
    assert [s["id"] for s in everyone["nodes"]] == [theirs["id"], mine["id"]]  # newest first
    assert [rest_sub(s) for s in everyone["nodes"]] == [
        instants(s) for s in ok(await client.get(SUBS, headers=auth(admin_key)))["items"]
    ]
    only_bob = (await data(client, admin_key, LIST, {"userId": bob.id}))["subscriptions"]
    assert [s["id"] for s in only_bob["nodes"]] == [theirs["id"]]
    ok(
        await client.patch(
            f"{SUBS}/{theirs['id']}", headers=auth(admin_key), json={"status": "suspended"}
        )
    )
    suspended = (await data(client, admin_key, LIST, {"status": "SUSPENDED"}))["subscriptions"]
    assert [s["id"] for s in suspended["nodes"]] == [theirs["id"]]

    first = (await data(client, admin_key, LIST, {"first": 1}))["subscriptions"]
    assert (first["totalCount"], first["pageInfo"]["hasNextPage"]) == (2, True)
    after = first["pageInfo"]["endCursor"]
    second = (await data(client, admin_key, LIST, {"first": 1, "after": after}))["subscriptions"]
    assert [s["id"] for s in second["nodes"]] == [mine["id"]]
    assert (second["pageInfo"]["hasNextPage"], second["pageInfo"]["hasPreviousPage"]) == (
        False,
        True,
    )

    bad = await error(client, admin_key, LIST, {"userId": "bob"}, code="VALIDATION_FAILED")
    assert bad["extensions"]["details"]["errors"][0]["path"] == "userId"
    assert_error(await client.get(SUBS, headers=auth(admin_key), params={"user_id": "bob"}), 422)
    await error(client, admin_key, LIST, {"first": 0}, code="VALIDATION_FAILED")
    await error(client, admin_key, LIST, {"after": "nonsense"}, code="VALIDATION_FAILED")


async def test_a_member_sees_the_retired_plan_their_subscription_is_on(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    body = {"name": "legacy", "monthly_credits": "3"}
    ok(await client.post(PLANS, headers=auth(admin_key), json=body), 201)
    sub = await subscribe(client, admin_key, member, "legacy")
    ok(await client.patch(f"{PLANS}/legacy", headers=auth(admin_key), json={"active": False}))
    page = (await data(client, member.key, LIST))["subscriptions"]
    assert page["nodes"][0]["plan"] == {
        "id": sub["plan_id"],
        "name": "legacy",
        "monthlyCredits": "3",
        "active": False,
    }
    # the plan itself stays hidden from members, as over REST
    await error(client, member.key, '{ plan(ref: "legacy") { id } }', code="PLAN_NOT_FOUND")
    assert_error(await client.get(f"{PLANS}/legacy", headers=member.headers), 404)


@pytest.mark.parametrize(
    ("given", "status", "code", "field"),
    [
        ({"plan": "nope"}, 404, "PLAN_NOT_FOUND", None),
        ({"plan": "pro"}, 409, "SUBSCRIPTION_EXISTS", None),
        ({"plan": "retired"}, 409, "PLAN_INACTIVE", None),
        ({"plan": "pro", "userId": NOBODY}, 404, "USER_NOT_FOUND", None),
        ({"plan": "pro", "userId": "bob"}, 422, "VALIDATION_FAILED", "userId"),
        ({"plan": ""}, 422, "VALIDATION_FAILED", "plan"),
        (
            {"plan": "pro", "externalCustomerId": "x" * 201},
            422,
            "VALIDATION_FAILED",
            "externalCustomerId",
        ),
    ],
)
async def test_bad_subscriptions_are_refused_and_nothing_changes(
    client: httpx.AsyncClient,
    admin_key: str,
    given: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    member = await make_member(client, admin_key)
    ok(
        await client.post(
            PLANS,
            headers=auth(admin_key),
            json={"name": "retired", "monthly_credits": "1", "active": False},
        ),
        201,
    )
    await subscribe(client, admin_key, member)
    before = await billing_state(client, admin_key, member)
    create = (
        "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id } }"
    )
    found = await error(
        client, admin_key, create, {"input": {"userId": member.id} | given}, code=code
    )
    assert found["extensions"]["status"] == status
    if field is not None:
        assert [e["path"] for e in found["extensions"]["details"]["errors"]] == [field]
    rest = {"user_id": member.id} | {
        {"userId": "user_id", "externalCustomerId": "external_customer_id"}.get(k, k): v
        for k, v in given.items()
    }
    assert_error(await client.post(SUBS, headers=auth(admin_key), json=rest), status, code)
    assert await billing_state(client, admin_key, member) == before


@pytest.mark.parametrize(
    ("first", "given", "status", "code", "field"),
    [
        ("CANCELLED", {"status": "ACTIVE"}, 409, "INVALID_TRANSITION", None),
        ("CANCELLED", {"status": "SUSPENDED"}, 409, "INVALID_TRANSITION", None),
        ("CANCELLED", {"cancelAtPeriodEnd": True}, 409, "SUBSCRIPTION_ENDED", None),
        (None, {"status": "EXPIRED"}, 422, "VALIDATION_FAILED", "status"),
        (None, {"status": None}, 422, "VALIDATION_FAILED", "status"),
        (None, {"plan": "nope"}, 404, "PLAN_NOT_FOUND", None),
        (None, {"plan": "retired"}, 409, "PLAN_INACTIVE", None),
    ],
)
async def test_bad_subscription_changes_are_refused_and_nothing_changes(
    client: httpx.AsyncClient,
    admin_key: str,
    first: str | None,
    given: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    member = await make_member(client, admin_key)
    ok(
        await client.post(
            PLANS,
            headers=auth(admin_key),
            json={"name": "retired", "monthly_credits": "1", "active": False},
        ),
        201,
    )
    sub = await subscribe_gql(client, admin_key, member)
    if first is not None:
        await data(client, admin_key, UPDATE_SUB, {"id": sub["id"], "input": {"status": first}})
    before = await billing_state(client, admin_key, member)
    found = await error(client, admin_key, UPDATE_SUB, {"id": sub["id"], "input": given}, code=code)
    assert found["extensions"]["status"] == status
    if field is not None:
        assert [e["path"] for e in found["extensions"]["details"]["errors"]] == [field]
    if code == "INVALID_TRANSITION":
        assert found["extensions"]["details"] == {
            "from": "cancelled",
            "to": given["status"].lower(),
            "allowed": [],
        }
    rest = {
        {"cancelAtPeriodEnd": "cancel_at_period_end"}.get(k, k): v.lower()
        if k == "status" and v
        else v
        for k, v in given.items()
    }
    response = await client.patch(f"{SUBS}/{sub['id']}", headers=auth(admin_key), json=rest)
    assert_error(response, status, code)
    assert await billing_state(client, admin_key, member) == before


@pytest.mark.parametrize("what", ["create", "suspend", "cancel"])
async def test_members_may_not_change_subscriptions(
    client: httpx.AsyncClient, admin_key: str, what: str
) -> None:
    member = await make_member(client, admin_key)
    other = await make_member(client, admin_key)
    sub = await subscribe(client, admin_key, member)
    before = await billing_state(client, admin_key, member)
    if what == "create":
        create = "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }"
        await error(
            client,
            member.key,
            create,
            {"i": {"userId": other.id, "plan": "free"}},
            code="FORBIDDEN",
        )
    else:
        status = "SUSPENDED" if what == "suspend" else "CANCELLED"
        variables = {"id": sub["id"], "input": {"status": status}}
        await error(client, member.key, UPDATE_SUB, variables, code="FORBIDDEN")
        # another member's subscription: not found, not forbidden... and no change either way
        await error(client, other.key, ONE, {"id": sub["id"]}, code="SUBSCRIPTION_NOT_FOUND")
    assert await billing_state(client, admin_key, member) == before


async def test_without_a_credential_nothing_runs(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    sub = await subscribe(client, admin_key, member)
    before = await billing_state(client, admin_key, member)
    for doc, variables in (
        (LIST, {}),
        (ONE, {"id": sub["id"]}),
        (UPDATE_SUB, {"id": sub["id"], "input": {"status": "CANCELLED"}}),
    ):
        response = await gql(client, None, doc, variables)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await billing_state(client, admin_key, member) == before
