"""Credits over GraphQL: creditBalance and creditLedger (credits.read), grantCredits and
adjustCredits with exact amounts, members reading only their own, bad amounts refused with
REST's codes and nothing changed, every change audited."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from modelyard.db.types import utcnow
from tests.api.billing_helpers import ADJUST as REST_ADJUST
from tests.api.billing_helpers import AUDIT, CREDITS, GRANTS, LEDGER
from tests.api.graphql.billing_gql import (
    ADJUST,
    BALANCE,
    GRANT,
    LEDGER_Q,
    billing_state,
    instants,
    subscribe_gql,
)
from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import Member, assert_error, auth, make_member, ok

NOBODY = "00000000-0000-4000-8000-000000000000"


async def _grant(client: httpx.AsyncClient, key: str, **given: Any) -> dict[str, Any]:
    found: dict[str, Any] = (await data(client, key, GRANT, {"input": given}))["grantCredits"]
    return found


async def _adjust(client: httpx.AsyncClient, key: str, **given: Any) -> dict[str, Any]:
    found: dict[str, Any] = (await data(client, key, ADJUST, {"input": given}))["adjustCredits"]
    return found


def as_rest(balance: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL balance written as REST writes it."""
    grants = [
        instants(
            {
                "id": g["id"],
                "source": g["source"].lower(),
                "amount": g["amount"],
                "left": g["left"],
                "expires_at": g["expiresAt"],
                "created_at": g["createdAt"],
            }
        )
        for g in balance["grants"]
    ]
    keys = ("balance", "held", "expired", "available")
    return {"user_id": balance["userId"], **{k: balance[k] for k in keys}, "grants": grants}


async def _ledger(client: httpx.AsyncClient, key: str, **variables: Any) -> dict[str, Any]:
    found: dict[str, Any] = (await data(client, key, LEDGER_Q, variables))["creditLedger"]
    return found


async def test_balance_and_ledger_through_grants_and_adjustments(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    other = await make_member(client, admin_key)
    expires = (utcnow() + timedelta(days=30)).isoformat()
    after_grant = await _grant(
        client, admin_key, userId=member.id, amount="12.345678", expiresAt=expires, reason="bought"
    )
    assert (after_grant["userId"], after_grant["balance"]) == (member.id, "12.345678")
    assert after_grant["grants"][0]["expiresAt"] is not None
    await _grant(client, admin_key, userId=member.id, amount=7, source="ADJUSTMENT")
    await _adjust(client, admin_key, userId=member.id, amount="25", reason="goodwill")
    balance = await _adjust(
        client, admin_key, userId=member.id, amount="-0.345678", reason="taken back"
    )
    assert {k: balance[k] for k in ("balance", "held", "expired", "available")} == {
        "balance": "44",
        "held": "0",
        "expired": "0",
        "available": "44",
    }
    assert sorted(g["source"] for g in balance["grants"]) == [
        "ADJUSTMENT",
        "ADJUSTMENT",
        "PURCHASE",
    ]
    assert sum(Decimal(g["left"]) for g in balance["grants"]) == Decimal(44)

    # Members get their own, whoever they ask for (as REST); admins anyone's.
    assert (await data(client, member.key, BALANCE))["creditBalance"] == balance
    theirs = (await data(client, other.key, BALANCE, {"userId": member.id}))["creditBalance"]
    assert (theirs["userId"], theirs["balance"], theirs["grants"]) == (other.id, "0", [])
    by_admin = (await data(client, admin_key, BALANCE, {"userId": member.id}))["creditBalance"]
    assert by_admin == balance
    rest = ok(await client.get(CREDITS, headers=member.headers))
    assert as_rest(balance) == {**rest, "grants": [instants(g) for g in rest["grants"]]}

    ledger = await _ledger(client, member.key)
    assert [(e["kind"], e["reason"]) for e in ledger["nodes"]] == [
        ("ADJUSTMENT", "taken back"),
        ("GRANT", "goodwill"),
        ("GRANT", "adjustment"),
        ("GRANT", "bought"),
    ]
    assert [e["amount"] for e in ledger["nodes"]] == ["-0.345678", "25", "7", "12.345678"]
    assert ledger["totalCount"] == 4
    assert sum(Decimal(e["amount"]) for e in ledger["nodes"]) == Decimal(balance["balance"])
    assert {e["userId"] for e in ledger["nodes"]} == {member.id}
    rest_ledger = ok(await client.get(LEDGER, headers=member.headers))["items"]
    assert [e["id"] for e in ledger["nodes"]] == [str(e["id"]) for e in rest_ledger]
    assert [e["amount"] for e in ledger["nodes"]] == [e["amount"] for e in rest_ledger]
    assert await _ledger(client, admin_key, userId=member.id) == ledger
    page = await _ledger(client, member.key, first=2)
    rest_page = await _ledger(client, member.key, first=2, after=page["pageInfo"]["endCursor"])
    assert [e["id"] for e in page["nodes"] + rest_page["nodes"]] == [
        e["id"] for e in ledger["nodes"]
    ]
    assert rest_page["pageInfo"]["hasNextPage"] is False
    assert (await _ledger(client, other.key, userId=member.id))["totalCount"] == 0

    events = ok(await client.get(AUDIT, headers=auth(admin_key), params={"limit": 4}))["items"]
    assert [e["action"] for e in events] == ["credits.adjust"] * 2 + ["credits.grant"] * 2
    assert [e["after"]["amount"] for e in events] == ["-0.345678", "25", "7", "12.345678"]
    assert events[0]["after"]["reason"] == "taken back"


async def test_amounts_are_exact_at_the_column_s_range(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    top = await _grant(client, admin_key, userId=member.id, amount="1000000000000")
    least = await _grant(client, admin_key, userId=member.id, amount="0.000001")
    assert (top["balance"], least["balance"]) == ("1000000000000", "1000000000000.000001")
    taken = await _adjust(
        client, admin_key, userId=member.id, amount="-999999999999.999999", reason="most"
    )
    assert taken["balance"] == "0.000002"
    ledger = await _ledger(client, member.key)
    assert sum(Decimal(e["amount"]) for e in ledger["nodes"]) == Decimal("0.000002")


async def test_a_plan_s_credits_are_in_the_ledger(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    await subscribe_gql(client, admin_key, member)
    balance = (await data(client, member.key, BALANCE))["creditBalance"]
    ledger = await _ledger(client, member.key)
    assert [(e["kind"], e["amount"]) for e in ledger["nodes"]] == [("GRANT", "10000")]
    assert balance["grants"][0]["source"] == "PLAN"
    assert ledger["nodes"][0]["grantId"] == balance["grants"][0]["id"]


async def test_unknown_users_and_bad_arguments(client: httpx.AsyncClient, admin_key: str) -> None:
    for doc in (BALANCE, LEDGER_Q):
        found = await error(client, admin_key, doc, {"userId": NOBODY}, code="USER_NOT_FOUND")
        assert found["extensions"]["status"] == 404
        bad = await error(client, admin_key, doc, {"userId": "bob"}, code="VALIDATION_FAILED")
        assert [e["path"] for e in bad["extensions"]["details"]["errors"]] == ["userId"]
    assert_error(
        await client.get(CREDITS, headers=auth(admin_key), params={"user_id": NOBODY}),
        404,
        "USER_NOT_FOUND",
    )
    await error(client, admin_key, LEDGER_Q, {"first": 0}, code="VALIDATION_FAILED")


def _state(member: Member) -> list[str]:
    return [f"{CREDITS}?user_id={member.id}", f"{LEDGER}?user_id={member.id}", f"{AUDIT}?limit=1"]


@pytest.mark.parametrize(
    ("doc", "given", "status", "code", "field"),
    [
        (GRANT, {"amount": "-5"}, 422, "VALIDATION_FAILED", "amount"),
        (GRANT, {"amount": -5}, 422, "VALIDATION_FAILED", "amount"),
        (GRANT, {"amount": "0"}, 422, "VALIDATION_FAILED", "amount"),
        (GRANT, {"amount": "1.0000001"}, 422, "VALIDATION_FAILED", "amount"),
        (GRANT, {"amount": "1e13"}, 422, "VALIDATION_FAILED", "amount"),
        (GRANT, {"amount": "1000000000000.000001"}, 422, "VALIDATION_FAILED", "amount"),
        (GRANT, {"amount": "5", "source": "PLAN"}, 422, "VALIDATION_FAILED", "source"),
        (
            GRANT,
            {"amount": "5", "expiresAt": "2030-01-01T00:00:00"},
            422,
            "VALIDATION_FAILED",
            "expiresAt",
        ),
        (
            GRANT,
            {"amount": "5", "expiresAt": "2001-01-01T00:00:00Z"},
            422,
            "VALIDATION_FAILED",
            "expiresAt",
        ),
        (GRANT, {"amount": "5", "reason": "x" * 501}, 422, "VALIDATION_FAILED", "reason"),
        (GRANT, {"amount": "5", "userId": NOBODY}, 404, "USER_NOT_FOUND", None),
        (GRANT, {"amount": "5", "userId": "bob"}, 422, "VALIDATION_FAILED", "userId"),
        (ADJUST, {"amount": "-5", "reason": "   "}, 422, "VALIDATION_FAILED", "reason"),
        (ADJUST, {"amount": "0", "reason": "x"}, 422, "VALIDATION_FAILED", "amount"),
        (ADJUST, {"amount": "-0.0000001", "reason": "x"}, 422, "VALIDATION_FAILED", "amount"),
        (ADJUST, {"amount": "-1e13", "reason": "x"}, 422, "VALIDATION_FAILED", "amount"),
        (ADJUST, {"amount": "1000000000001", "reason": "x"}, 422, "VALIDATION_FAILED", "amount"),
        (ADJUST, {"amount": "-100.000001", "reason": "x"}, 409, "INSUFFICIENT_CREDITS", None),
        (ADJUST, {"amount": "-5", "reason": "x", "userId": NOBODY}, 404, "USER_NOT_FOUND", None),
    ],
)
async def test_bad_credit_changes_are_refused_as_rest_refuses_them_and_nothing_changes(
    client: httpx.AsyncClient,
    admin_key: str,
    doc: str,
    given: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    member = await make_member(client, admin_key)
    await _grant(client, admin_key, userId=member.id, amount="100", reason="start")
    before = await billing_state(client, admin_key, member)
    found = await error(client, admin_key, doc, {"input": {"userId": member.id} | given}, code=code)
    assert found["extensions"]["status"] == status
    assert found["path"] == ["grantCredits" if doc is GRANT else "adjustCredits"]
    if field is not None:
        assert [e["path"] for e in found["extensions"]["details"]["errors"]] == [field]
        assert field in found["message"]
    if code == "INSUFFICIENT_CREDITS":
        assert found["extensions"]["details"] == {"available": "100"}
    names = {"userId": "user_id", "expiresAt": "expires_at"}
    rest = {"user_id": member.id} | {
        names.get(k, k): v.lower() if k == "source" else v for k, v in given.items()
    }
    path = GRANTS if doc is GRANT else REST_ADJUST
    assert_error(await client.post(path, headers=auth(admin_key), json=rest), status, code)
    assert await billing_state(client, admin_key, member) == before


async def test_floats_and_words_are_refused_before_anything_runs(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    before = await billing_state(client, admin_key, member)
    for amount in (1.5, "lots", "NaN", True):
        response = await gql(
            client, admin_key, GRANT, {"input": {"userId": member.id, "amount": amount}}
        )
        body = response.json()
        assert (response.status_code, body.get("data")) == (400, None), body
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "Traceback" not in response.text
    assert await billing_state(client, admin_key, member) == before


@pytest.mark.parametrize("doc", [GRANT, ADJUST])
@pytest.mark.parametrize("whose", ["own", "other"])
async def test_members_may_not_grant_or_adjust(
    client: httpx.AsyncClient, admin_key: str, doc: str, whose: str
) -> None:
    member = await make_member(client, admin_key)
    other = await make_member(client, admin_key)
    target = member if whose == "own" else other
    before = await billing_state(client, admin_key, target)
    given = {"userId": target.id, "amount": "5", "reason": "free money"}
    found = await error(client, member.key, doc, {"input": given}, code="FORBIDDEN")
    assert found["extensions"]["status"] == 403
    assert await billing_state(client, admin_key, target) == before


async def test_credits_read_alone_reads_one_s_own_credits_and_nothing_else(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    await _grant(client, admin_key, userId=member.id, amount="3")
    app = await make_member(client, admin_key, scopes=["credits.read"])
    admin_app = await make_member(client, admin_key, role="admin", scopes=["credits.read"])
    assert (await data(client, app.key, BALANCE))["creditBalance"]["userId"] == app.id
    assert (await _ledger(client, app.key))["totalCount"] == 0
    for doc in ("{ subscriptions { totalCount } }", "{ plans { name } }"):
        await error(client, app.key, doc, code="INSUFFICIENT_SCOPE")
    # an admin's credits.read key reads no one else's: that takes registry.read (as REST)
    found = await error(
        client, admin_app.key, BALANCE, {"userId": member.id}, code="INSUFFICIENT_SCOPE"
    )
    assert found["extensions"]["status"] == 403
    rest = await client.get(CREDITS, headers=admin_app.headers, params={"user_id": member.id})
    assert_error(rest, 403, "INSUFFICIENT_SCOPE")
    # in one document, the field it may not read is the one refused
    response = await gql(client, app.key, "{ creditBalance { balance } plans { name } }")
    errors = response.json()["errors"]
    assert [(e["extensions"]["code"], e["path"]) for e in errors] == [
        ("INSUFFICIENT_SCOPE", ["plans"])
    ]


async def test_without_a_credential_nothing_runs(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    before = await billing_state(client, admin_key, member)
    for doc, variables in (
        (BALANCE, {}),
        (LEDGER_Q, {}),
        (GRANT, {"input": {"userId": member.id, "amount": "5"}}),
        (ADJUST, {"input": {"userId": member.id, "amount": "5", "reason": "x"}}),
    ):
        response = await gql(client, None, doc, variables)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await billing_state(client, admin_key, member) == before
