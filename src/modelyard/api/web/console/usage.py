"""GET /console/usage: the usage explorer, the recorded calls one by one (newest first, 50 a
page) under the filters of :mod:`.usage_filters`; GET /console/usage/export: the same calls
as a CSV file (the newest :data:`EXPORT_MAX`). Members see their own calls only: the usage
report decides that, not this page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response

from modelyard.api.web.console.access import registry_of, viewer
from modelyard.api.web.console.render import page
from modelyard.api.web.console.usage_filters import (
    DEPTH,
    RANGES,
    STATUSES,
    Filters,
    read_filters,
)
from modelyard.usage.export import events_csv
from modelyard.usage.report import EVENTS_MAX, EventPage, UsageEventView

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
EXPORT_MAX = DEPTH  # calls in one CSV file, read in pages of the report's largest


@router.get("/console/usage")
async def usage(request: Request) -> Response:
    signed = await viewer(request)
    actor = signed.actor()
    registry = registry_of(request)
    filters = await read_filters(registry, actor, request.query_params, datetime.now(UTC))
    calls: list[UsageEventView] | None = None
    more = False
    if filters.events is not None:
        calls, more = await registry.usage.browse(
            actor, filters.events, EventPage(limit=PAGE_SIZE, offset=filters.offset)
        )
    query = filters.query()
    context = {
        "title": "Usage",
        "filters": filters,
        "errors": filters.errors,
        "calls": calls,
        "more": more,
        "offset": filters.offset,
        "page_size": PAGE_SIZE,
        "depth": DEPTH,
        "ranges": [(key, label) for key, (label, _) in RANGES.items()]
        + [("custom", "Between the dates given")],
        "statuses": [("", "Any status"), *((s, s) for s in STATUSES)],
        "base": f"/console/usage?{query}&" if query else "/console/usage?",
        "export": f"/console/usage/export?{query}" if query else "/console/usage/export",
        "export_max": EXPORT_MAX,
    }
    status = 422 if filters.errors else 200
    return page(request, signed, "usage.html", context, status=status)


@router.get("/console/usage/export")
async def export(request: Request) -> Response:
    signed = await viewer(request)
    actor = signed.actor()
    registry = registry_of(request)
    now = datetime.now(UTC)
    filters = await read_filters(registry, actor, request.query_params, now)
    if filters.events is None:  # the page says what is wrong, beside the field
        return await usage(request)
    rows: list[UsageEventView] = []
    more = True
    while more and len(rows) < EXPORT_MAX:
        limit = min(EVENTS_MAX, EXPORT_MAX - len(rows))
        after = rows[-1].id if rows else None  # keyset: no step over the rows read
        found, more = await registry.usage.browse(
            actor, filters.events, EventPage(limit=limit, before=after)
        )
        rows += found
    name = f"modelyard-usage-{_stamp(filters, now)}.csv"
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(events_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)


def _stamp(filters: Filters, now: datetime) -> str:
    """``2026-11-28-to-2026-12-05``: the days the file covers."""
    start = filters.since.strftime("%Y-%m-%d") if filters.since else "start"
    end = filters.until - timedelta(days=1) if filters.until else now  # until: the next day
    return f"{start}-to-{end.strftime('%Y-%m-%d')}"
