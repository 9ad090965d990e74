"""renewBilling over GraphQL: the renewal job run once by an admin, crossing a period
boundary once with a controlled clock; members and narrow keys refused, nothing changed."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import httpx

from modelyard.db.types import utcnow
from modelyard.services import Registry
from tests.api.billing_helpers import PLANS, Clock, actions
from tests.api.graphql.billing_gql import ADJUST, BALANCE, LEDGER_Q, billing_state, subscribe_gql
from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import auth, make_member, ok

RENEW = """mutation { renewBilling {
  renewed cancelled expired writtenOff grantsExpired holdsDropped
} }"""


async def test_renew_billing_crosses_a_period_boundary_once(
    client: httpx.AsyncClient, admin_key: str, registry: Registry
) -> None:
    clock = Clock(utcnow())
    registry.db.clock = clock
    body = {"name": "full", "monthly_credits": "100", "rollover": "full"}
    ok(await client.post(PLANS, headers=auth(admin_key), json=body), 201)
    member = await make_member(client, admin_key)
    sub = await subscribe_gql(client, admin_key, member, "full")
    take = {"userId": member.id, "amount": "-30", "reason": "usage stand-in"}
    await data(client, admin_key, ADJUST, {"input": take})

    nothing = (await data(client, admin_key, RENEW))["renewBilling"]
    assert nothing == {
        "renewed": [],
        "cancelled": [],
        "expired": [],
        "writtenOff": "0",
        "grantsExpired": 0,
        "holdsDropped": 0,
    }
    clock.now = datetime.fromisoformat(sub["currentPeriodEnd"]) + timedelta(minutes=1)
    first = (await data(client, admin_key, RENEW))["renewBilling"]
    second = (await data(client, admin_key, RENEW))["renewBilling"]
    assert (first["renewed"], second["renewed"], second["grantsExpired"]) == ([sub["id"]], [], 0)

    balance = (await data(client, member.key, BALANCE))["creditBalance"]
    assert balance["balance"] == "170"  # 70 rolled over (full) and 100 for the new period
    assert sorted(g["source"] for g in balance["grants"]) == ["PLAN", "ROLLOVER"]
    ledger = (await data(client, member.key, LEDGER_Q))["creditLedger"]
    assert [e["kind"] for e in ledger["nodes"]].count("GRANT") == 3  # plan, rollover, plan
    assert sum(Decimal(e["amount"]) for e in ledger["nodes"]) == Decimal(170)
    events = await actions(client, admin_key)
    assert events.count("subscription.renew") == 1
    assert events.count("credits.rollover") == 1


async def test_renew_billing_is_for_admins(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    reader = await make_member(client, admin_key, role="admin", scopes=["registry.read"])
    before = await billing_state(client, admin_key, member)
    await error(client, member.key, RENEW, code="FORBIDDEN")
    await error(client, reader.key, RENEW, code="INSUFFICIENT_SCOPE")
    assert (await gql(client, None, RENEW)).status_code == 401
    assert await billing_state(client, admin_key, member) == before
