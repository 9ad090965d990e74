"""Helpers of the billing HTTP tests: paths, a controllable clock, error fields, audit actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.api.helpers import API, Member, auth, ok

PLANS, SUBS, CREDITS = f"{API}/plans", f"{API}/subscriptions", f"{API}/credits"
LEDGER, GRANTS, ADJUST = f"{CREDITS}/ledger", f"{CREDITS}/grants", f"{CREDITS}/adjustments"
RENEW, AUDIT = f"{API}/billing/renew", f"{API}/audit"


class Clock:
    """Set as ``registry.db.clock``: the registry's "now" is whatever the test says."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def paths(error: dict[str, Any]) -> list[str]:
    """The fields a validation error names."""
    return [e["path"] for e in error["details"]["errors"]]


async def actions(client: httpx.AsyncClient, admin_key: str, limit: int = 50) -> list[str]:
    """The newest audit events' actions, newest first."""
    page = ok(await client.get(AUDIT, headers=auth(admin_key), params={"limit": limit}))
    return [e["action"] for e in page["items"]]


async def subscribe(
    client: httpx.AsyncClient, admin_key: str, member: Member, plan: str = "pro"
) -> dict[str, Any]:
    body = {"user_id": member.id, "plan": plan}
    created: dict[str, Any] = ok(await client.post(SUBS, headers=auth(admin_key), json=body), 201)
    return created
