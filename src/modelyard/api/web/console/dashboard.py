"""GET /console: the dashboard. Spend, calls, tokens, errors and latency over the last 7, 30
or 90 days (today, UTC, included) as tiles, charts by day and a table; the top models,
providers and (admins) users by spend; credit balances. Everything is read from the daily
roll-ups (``registry.usage_daily``): a few queries whatever the number of calls, with the
figures of ``/api/v1/usage`` over the same days. Members see only their own usage."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from modelyard.api.web.console.access import registry_of, viewer
from modelyard.api.web.console.dashboard_figures import figures
from modelyard.api.web.console.render import page
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.usage.daily import TopTotal

router = APIRouter(include_in_schema=False)

RANGES = (7, 30, 90)
DEFAULT_DAYS = 30
TOP = 5  # rows in each "top" table


@router.get("/console")
async def dashboard(request: Request) -> Response:
    signed = await viewer(request)
    actor = signed.actor()
    registry = registry_of(request)
    raw = request.query_params.get("days", "")
    days = next((d for d in RANGES if raw == str(d)), DEFAULT_DAYS)  # else the default
    until = datetime.now(UTC).date()
    since = until - timedelta(days=days - 1)
    rows = await registry.usage_daily.series(actor, since, until)
    found = figures(rows, since, until)
    context: dict[str, Any] = {
        "title": "Dashboard",
        "days": days,
        "ranges": RANGES,
        "since": since,
        "until": until,
        "fig": found,
        "explore": f"/console/usage?since={since.isoformat()}&until={until.isoformat()}",
        "styles": ("console-charts.css",),
        "scripts": ("console-charts.js",),
    }
    if found.calls:
        context.update(await _tops(registry, actor, since, until))
    context.update(await _credits(registry, actor, context.get("top_users", [])))
    return page(
        request,
        signed,
        "dashboard.html",
        context,
    )


async def _tops(
    registry: Registry, actor: Actor, since: date, until: date
) -> dict[str, list[TopTotal]]:
    tops = {
        "top_models": await registry.usage_daily.top(actor, "model", since, until, TOP),
        "top_providers": await registry.usage_daily.top(actor, "provider", since, until, TOP),
    }
    if actor.is_admin:
        tops["top_users"] = await registry.usage_daily.top(actor, "user", since, until, TOP)
    return tops


async def _credits(registry: Registry, actor: Actor, top_users: list[TopTotal]) -> dict[str, Any]:
    """Admins: the balances of the top users (one query); members: their own balance."""
    if actor.is_admin:
        ids = [uuid.UUID(t.key) for t in top_users if t.key is not None]
        found = await registry.credits.balances_of(actor, ids)
        return {"balances": {str(uid): amount for uid, amount in found.items()}}
    if actor.user_id is None:
        return {}
    return {"balance": await registry.credits.balance(actor)}
