"""Documents and helpers of the billing GraphQL tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.api.billing_helpers import AUDIT, CREDITS, LEDGER, PLANS, SUBS
from tests.api.graphql.gql import data
from tests.api.helpers import Member, snapshot

PLAN_FIELDS = """id name displayName monthlyCredits rollover rolloverCap rpmLimit tpmLimit
  maxParallel allowedModels allowedCapabilities active createdAt updatedAt"""
SUB_FIELDS = """id userId planId planName status periodAnchor currentPeriodStart
  currentPeriodEnd cancelAtPeriodEnd externalCustomerId externalSubscriptionId endedAt
  createdAt updatedAt"""
BALANCE_FIELDS = """userId balance held expired available
  grants { id source amount left expiresAt createdAt }"""

CREATE_SUB = f"""mutation($input: CreateSubscriptionInput!) {{
  createSubscription(input: $input) {{ {SUB_FIELDS} plan {{ name monthlyCredits }} }}
}}"""
UPDATE_SUB = f"""mutation($id: ID!, $input: UpdateSubscriptionInput!) {{
  updateSubscription(id: $id, input: $input) {{ {SUB_FIELDS} plan {{ name }} }}
}}"""
BALANCE = f"query($userId: ID) {{ creditBalance(userId: $userId) {{ {BALANCE_FIELDS} }} }}"
LEDGER_Q = """query($userId: ID, $first: Int, $after: String) {
  creditLedger(userId: $userId, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id userId occurredAt kind amount grantId requestId actor reason }
  }
}"""
GRANT = f"""mutation($input: GrantCreditsInput!) {{
  grantCredits(input: $input) {{ {BALANCE_FIELDS} }}
}}"""
ADJUST = f"""mutation($input: AdjustCreditsInput!) {{
  adjustCredits(input: $input) {{ {BALANCE_FIELDS} }}
}}"""


def rest_sub(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL subscription as REST writes it (snake_case, `plan` the name)."""
    names = {
        "id": "id",
        "userId": "user_id",
        "planId": "plan_id",
        "planName": "plan",
        "periodAnchor": "period_anchor",
        "currentPeriodStart": "current_period_start",
        "currentPeriodEnd": "current_period_end",
        "cancelAtPeriodEnd": "cancel_at_period_end",
        "externalCustomerId": "external_customer_id",
        "externalSubscriptionId": "external_subscription_id",
        "endedAt": "ended_at",
        "createdAt": "created_at",
        "updatedAt": "updated_at",
    }
    out = {rest: node[gql] for gql, rest in names.items()}
    out["status"] = node["status"].lower()
    return instants(out)


TIMES = {
    "period_anchor",
    "current_period_start",
    "current_period_end",
    "ended_at",
    "created_at",
    "updated_at",
    "expires_at",
    "occurred_at",
}


def instants(rest: dict[str, Any]) -> dict[str, Any]:
    """``rest`` with its times parsed (REST writes `Z`, GraphQL `+00:00`: the same instant)."""
    return {
        k: datetime.fromisoformat(v) if k in TIMES and isinstance(v, str) else v
        for k, v in rest.items()
    }


async def subscribe_gql(
    client: httpx.AsyncClient, admin_key: str, member: Member, plan: str = "pro"
) -> dict[str, Any]:
    found: dict[str, Any] = (
        await data(client, admin_key, CREATE_SUB, {"input": {"userId": member.id, "plan": plan}})
    )["createSubscription"]
    return found


async def billing_state(client: httpx.AsyncClient, admin_key: str, member: Member) -> list[Any]:
    """What a refused billing change must leave as it was (read through REST)."""
    return await snapshot(
        client,
        admin_key,
        f"{PLANS}?include_inactive=true",
        f"{SUBS}?user_id={member.id}",
        f"{CREDITS}?user_id={member.id}",
        f"{LEDGER}?user_id={member.id}",
        f"{AUDIT}?limit=1",
    )
