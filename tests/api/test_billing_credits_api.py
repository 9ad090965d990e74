"""Credits and the renewal job over HTTP: balances and the ledger, grants and adjustments,
members seeing only their own, bad amounts refused with nothing changed, every change
audited, and a period boundary crossed once with a controlled clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from modelyard.db.types import utcnow
from modelyard.services import Registry
from tests.api.billing_helpers import (
    ADJUST,
    AUDIT,
    CREDITS,
    GRANTS,
    LEDGER,
    PLANS,
    RENEW,
    SUBS,
    Clock,
    actions,
    paths,
    subscribe,
)
from tests.api.helpers import Member, assert_error, auth, make_member, ok, snapshot

NOBODY = "00000000-0000-4000-8000-000000000000"


def state(member: Member) -> list[str]:
    """What a refused change must leave as it was."""
    return [f"{CREDITS}?user_id={member.id}", f"{LEDGER}?user_id={member.id}", f"{AUDIT}?limit=1"]


async def test_balance_and_ledger_through_grants_and_adjustments(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    other = await make_member(client, admin_key)
    admin = auth(admin_key)
    expires = (utcnow() + timedelta(days=30)).isoformat()
    bought = {
        "user_id": member.id,
        "amount": "12.345678",
        "expires_at": expires,
        "reason": "bought",
    }
    after_grant = ok(await client.post(GRANTS, headers=admin, json=bought), 201)
    assert after_grant["user_id"] == member.id
    assert Decimal(after_grant["balance"]) == Decimal("12.345678")
    assert after_grant["grants"][0]["expires_at"] is not None
    number = {"user_id": member.id, "amount": 7.5, "source": "adjustment"}
    ok(await client.post(GRANTS, headers=admin, json=number), 201)
    plus = {"user_id": member.id, "amount": 25, "reason": "goodwill"}
    ok(await client.post(ADJUST, headers=admin, json=plus))
    minus = {"user_id": member.id, "amount": "-0.345678", "reason": "taken back"}
    balance = ok(await client.post(ADJUST, headers=admin, json=minus))
    assert {k: Decimal(balance[k]) for k in ("balance", "held", "expired", "available")} == {
        "balance": Decimal("44.5"),
        "held": 0,
        "expired": 0,
        "available": Decimal("44.5"),
    }
    assert all(isinstance(g["left"], str) for g in balance["grants"])

    # Members get their own, whoever they ask for.
    assert ok(await client.get(CREDITS, headers=member.headers)) == balance
    theirs = ok(await client.get(CREDITS, headers=other.headers, params={"user_id": member.id}))
    assert (theirs["user_id"], theirs["balance"]) == (other.id, "0")
    assert ok(await client.get(CREDITS, headers=admin, params={"user_id": member.id})) == balance

    ledger = ok(await client.get(LEDGER, headers=member.headers))
    assert [(e["kind"], e["reason"]) for e in ledger["items"]] == [
        ("adjustment", "taken back"),
        ("grant", "goodwill"),
        ("grant", "adjustment"),
        ("grant", "bought"),
    ]
    assert ledger["total"] == 4
    assert sum(Decimal(e["amount"]) for e in ledger["items"]) == Decimal(balance["balance"])
    assert ok(await client.get(LEDGER, headers=admin, params={"user_id": member.id})) == ledger
    page = ok(await client.get(LEDGER, headers=member.headers, params={"limit": 2, "offset": 1}))
    assert [e["id"] for e in page["items"]] == [e["id"] for e in ledger["items"][1:3]]
    assert (
        ok(await client.get(LEDGER, headers=other.headers, params={"user_id": member.id}))["total"]
        == 0
    )

    events = ok(await client.get(AUDIT, headers=admin, params={"limit": 4}))["items"]
    assert [e["action"] for e in events] == ["credits.adjust"] * 2 + ["credits.grant"] * 2
    assert [e["after"]["amount"] for e in events] == ["-0.345678", "25", "7.5", "12.345678"]
    assert events[0]["after"]["reason"] == "taken back"
    assert {e["actor_label"] for e in events} == {"user:admin@example.com"}


async def test_unknown_users_and_bad_queries(client: httpx.AsyncClient, admin_key: str) -> None:
    admin = auth(admin_key)
    for path in (CREDITS, LEDGER):
        assert_error(
            await client.get(path, headers=admin, params={"user_id": NOBODY}), 404, "USER_NOT_FOUND"
        )
        error = assert_error(await client.get(path, headers=admin, params={"user_id": "bob"}), 422)
        assert paths(error) == ["user_id"]
    error = assert_error(await client.get(LEDGER, headers=admin, params={"limit": 0}), 422)
    assert paths(error) == ["limit"]


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "field"),
    [
        (GRANTS, {"amount": "-5"}, 422, "VALIDATION_FAILED", "amount"),
        (GRANTS, {"amount": -5}, 422, "VALIDATION_FAILED", "amount"),
        (GRANTS, {"amount": "0"}, 422, "VALIDATION_FAILED", "amount"),
        (GRANTS, {"amount": "1.0000001"}, 422, "VALIDATION_FAILED", "amount"),
        (GRANTS, {"amount": 1.0000001}, 422, "VALIDATION_FAILED", "amount"),
        (GRANTS, {"amount": "lots"}, 422, "VALIDATION_FAILED", "amount"),
        (GRANTS, {"amount": "1e13"}, 422, "VALIDATION_FAILED", "amount"),
        (GRANTS, {}, 422, "VALIDATION_FAILED", "amount"),
        (GRANTS, {"amount": "5", "source": "plan"}, 422, "VALIDATION_FAILED", "source"),
        (
            GRANTS,
            {"amount": "5", "expires_at": "2030-01-01T00:00:00"},
            422,
            "VALIDATION_FAILED",
            "expires_at",
        ),
        (
            GRANTS,
            {"amount": "5", "expires_at": "2001-01-01T00:00:00Z"},
            422,
            "VALIDATION_FAILED",
            "expires_at",
        ),
        (GRANTS, {"amount": "5", "user_id": NOBODY}, 404, "USER_NOT_FOUND", None),
        (GRANTS, {"amount": "5", "user_id": "bob"}, 422, "VALIDATION_FAILED", "user_id"),
        (ADJUST, {"amount": "-5"}, 422, "VALIDATION_FAILED", "reason"),
        (ADJUST, {"amount": "-5", "reason": "   "}, 422, "VALIDATION_FAILED", "reason"),
        (ADJUST, {"amount": "0", "reason": "x"}, 422, "VALIDATION_FAILED", "amount"),
        (ADJUST, {"amount": "-0.0000001", "reason": "x"}, 422, "VALIDATION_FAILED", "amount"),
        (ADJUST, {"amount": "-100.000001", "reason": "x"}, 409, "INSUFFICIENT_CREDITS", None),
        (ADJUST, {"amount": "-5", "reason": "x", "user_id": NOBODY}, 404, "USER_NOT_FOUND", None),
    ],
)
async def test_bad_credit_changes_are_refused_and_nothing_changes(
    client: httpx.AsyncClient,
    admin_key: str,
    path: str,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    member = await make_member(client, admin_key)
    given = {"user_id": member.id, "amount": "100", "reason": "start"}
    ok(await client.post(GRANTS, headers=auth(admin_key), json=given), 201)
    before = await snapshot(client, admin_key, *state(member))
    response = await client.post(path, headers=auth(admin_key), json={"user_id": member.id} | body)
    error = assert_error(response, status, code)
    if field is not None:
        assert field in paths(error), error
        assert field in error["message"]
    if code == "INSUFFICIENT_CREDITS":
        assert error["details"] == {"available": "100"}
    assert await snapshot(client, admin_key, *state(member)) == before


@pytest.mark.parametrize("path", [GRANTS, ADJUST])
@pytest.mark.parametrize("whose", ["own", "other"])
async def test_members_may_not_grant_or_adjust(
    client: httpx.AsyncClient, admin_key: str, path: str, whose: str
) -> None:
    member = await make_member(client, admin_key)
    other = await make_member(client, admin_key)
    target = member if whose == "own" else other
    before = await snapshot(client, admin_key, *state(target))
    body = {"user_id": target.id, "amount": "5", "reason": "free money"}
    assert_error(await client.post(path, headers=member.headers, json=body), 403, "FORBIDDEN")
    assert await snapshot(client, admin_key, *state(target)) == before


# -- the renewal job -----------------------------------------------------------------------


async def test_renew_crosses_a_period_boundary_once(
    client: httpx.AsyncClient, admin_key: str, registry: Registry
) -> None:
    clock = Clock(utcnow())
    registry.db.clock = clock
    admin = auth(admin_key)
    body = {"name": "full", "monthly_credits": "100", "rollover": "full"}
    ok(await client.post(PLANS, headers=admin, json=body), 201)
    member = await make_member(client, admin_key)
    sub = await subscribe(client, admin_key, member, "full")
    take = {"user_id": member.id, "amount": "-30", "reason": "usage stand-in"}
    ok(await client.post(f"{CREDITS}/adjustments", headers=admin, json=take))

    nothing = ok(await client.post(RENEW, headers=admin))
    assert nothing == {
        "renewed": [],
        "cancelled": [],
        "expired": [],
        "written_off": "0",
        "grants_expired": 0,
        "holds_dropped": 0,
    }
    clock.now = datetime.fromisoformat(sub["current_period_end"]) + timedelta(minutes=1)
    first = ok(await client.post(RENEW, headers=admin))
    second = ok(await client.post(RENEW, headers=admin))
    assert first["renewed"] == [sub["id"]]
    assert second["renewed"] == []
    assert second["grants_expired"] == 0

    renewed = ok(await client.get(f"{SUBS}/{sub['id']}", headers=member.headers))
    assert renewed["current_period_start"] == sub["current_period_end"]
    balance = ok(await client.get(CREDITS, headers=member.headers))
    assert balance["balance"] == "170"  # 70 rolled over (full) and 100 for the new period
    assert sorted(g["source"] for g in balance["grants"]) == ["plan", "rollover"]
    ledger = ok(await client.get(f"{CREDITS}/ledger", headers=member.headers))
    assert [e["kind"] for e in ledger["items"]].count("grant") == 3  # plan, rollover, plan
    assert sum(Decimal(e["amount"]) for e in ledger["items"]) == Decimal(170)
    events = await actions(client, admin_key)
    assert events.count("subscription.renew") == 1
    assert events.count("credits.rollover") == 1


async def test_renew_is_for_admins(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    reader = await make_member(client, admin_key, role="admin", scopes=["registry.read"])
    before = await snapshot(client, admin_key, f"{AUDIT}?limit=1")
    assert_error(await client.post(RENEW, headers=member.headers), 403, "FORBIDDEN")
    assert_error(await client.post(RENEW, headers=reader.headers), 403, "INSUFFICIENT_SCOPE")
    assert_error(await client.post(RENEW), 401, "UNAUTHENTICATED")
    assert await snapshot(client, admin_key, f"{AUDIT}?limit=1") == before
