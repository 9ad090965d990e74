"""/api/v1/usage: recorded gateway usage, totalled by day, user, model and/or provider, and
the calls one by one; JSON or (``?format=csv``) CSV."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from modelyard.api.deps import Reader, RegistryDep
from modelyard.errors import check
from modelyard.registry.common import Page
from modelyard.registry.fields import INT64_MAX, Instant
from modelyard.usage.export import events_csv, parse_format, totals_csv
from modelyard.usage.report import (
    EVENTS_LIMIT,
    EVENTS_MAX,
    EventFilter,
    EventPage,
    UsageEventView,
    UsageFilter,
    UsageTotal,
    parse_groups,
)

router = APIRouter(prefix="/usage", tags=["usage"])

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
UserId = Annotated[
    uuid.UUID | None, Query(description="one user's calls (admins; members always see their own)")
]
Since = Annotated[Instant | None, Query(description="inclusive; ISO 8601 with a zone")]
Until = Annotated[Instant | None, Query(description="exclusive; ISO 8601 with a zone")]
Format = Annotated[str, Query(alias="format", description="json (default) or csv")]
ClientRequestId = Annotated[
    str | None,
    Query(
        max_length=100,
        description="only calls the caller tagged with this id (x-client-request-id or "
        "x-request-id; not unique)",
    ),
]
GroupBy = Annotated[
    list[str] | None,
    Query(
        description="any of day, user, model, provider; repeated or comma-separated "
        "(default day,user,model)"
    ),
]


def _csv(text: str, filename: str, total: int | None = None) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if total is not None:
        headers["X-Total-Count"] = str(total)
    return Response(text, media_type="text/csv", headers=headers)


@router.get(
    "",
    summary="Usage totals by day, user, model and/or provider",
    response_model=list[UsageTotal],
    responses=CSV_RESPONSE,
)
async def usage_totals(
    registry: RegistryDep,
    actor: Reader,
    user_id: UserId = None,
    model: str | None = None,
    provider: str | None = None,
    client_request_id: ClientRequestId = None,
    since: Since = None,
    until: Until = None,
    group_by: GroupBy = None,
    format_: Format = "json",
) -> list[UsageTotal] | Response:
    """Members see their own calls; admins everyone's, or one user's with ``user_id``. Fields
    not grouped by are null (JSON) or left out (CSV)."""
    fmt = parse_format(format_)
    groups = parse_groups(group_by or ())
    filters: UsageFilter = check(
        UsageFilter,
        {
            "user_id": user_id,
            "model": model,
            "provider": provider,
            "client_request_id": client_request_id,
            "since": since,
            "until": until,
        },
    )
    totals = await registry.usage.totals(actor, filters, groups)
    return _csv(totals_csv(totals, groups), "usage.csv") if fmt == "csv" else totals


@router.get(
    "/events",
    summary="Recorded calls one by one, newest first",
    response_model=Page[UsageEventView],
    responses=CSV_RESPONSE,
)
async def usage_events(
    registry: RegistryDep,
    actor: Reader,
    user_id: UserId = None,
    model: str | None = None,
    provider: str | None = None,
    client_request_id: ClientRequestId = None,
    status: Annotated[str | None, Query(description="ok, error or aborted")] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=EVENTS_MAX, description="calls per page")] = EVENTS_LIMIT,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX, description="calls to skip")] = 0,
    before: Annotated[
        uuid.UUID | None,
        Query(
            description="the id of the last call of the previous page: this page starts "
            "right after it (as fast at any depth as the first page; offset counts from there)"
        ),
    ] = None,
    format_: Format = "json",
) -> Page[UsageEventView] | Response:
    """Same visibility as the totals. CSV holds the requested page, with the number of
    matching calls in the ``X-Total-Count`` header."""
    fmt = parse_format(format_)
    filters: EventFilter = check(
        EventFilter,
        {
            "user_id": user_id,
            "model": model,
            "provider": provider,
            "client_request_id": client_request_id,
            "status": status,
            "since": since,
            "until": until,
        },
    )
    page = await registry.usage.events(
        actor, filters, EventPage(limit=limit, offset=offset, before=before)
    )
    if fmt == "csv":
        return _csv(events_csv(page.items), "usage-events.csv", page.total)
    return page
