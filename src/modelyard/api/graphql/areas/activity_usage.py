"""Recorded usage (REST /api/v1/usage): ``usageTotals`` grouped by day, user, model and/or
provider, and ``usageEvents``, the calls one by one. Members see their own calls only."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from modelyard.api.graphql.areas.usage_totals import UsageTotal
from modelyard.api.graphql.context import Info
from modelyard.api.graphql.pagination import Connection, from_page, window
from modelyard.api.graphql.scalars import BigInt, Decimal
from modelyard.errors import check
from modelyard.registry.scopes import REGISTRY_READ
from modelyard.usage.report import EventFilter, EventPage, UsageEventView, UsageFilter, parse_groups

_USER = "one user's calls (admins; members always see their own)"
_SINCE = "inclusive; ISO 8601 with a zone"
_UNTIL = "exclusive; ISO 8601 with a zone"
_CLIENT = "only calls the caller tagged with this id (x-client-request-id; not unique)"
_GROUPS = "any of day, user, model, provider (each may be comma-separated); default day,user,model"


@strawberry.type(description="One recorded call (no secrets: the key is named by its id only).")
class UsageEvent:
    id: strawberry.ID
    request_id: str = strawberry.field(description="the server's, unique")
    client_request_id: str | None = strawberry.field(description="the caller's own, not unique")
    occurred_at: datetime.datetime
    user_id: strawberry.ID | None
    user_email: str | None
    api_key_id: strawberry.ID | None
    provider: str | None
    model: str | None
    operation: str
    status: str = strawberry.field(description="ok, error or aborted")
    error_code: str | None
    prompt_tokens: BigInt
    completion_tokens: BigInt
    cached_tokens: BigInt = strawberry.field(description="read from the provider's prompt cache")
    cache_write_tokens: BigInt = strawberry.field(description="written to it")
    estimated: bool
    latency_ms: BigInt
    ttft_ms: BigInt | None
    attempts: int
    cost: Decimal | None
    currency: str | None
    credits: Decimal | None

    @classmethod
    def of(cls, view: UsageEventView) -> UsageEvent:
        return cls(
            id=strawberry.ID(str(view.id)),
            request_id=view.request_id,
            client_request_id=view.client_request_id,
            occurred_at=view.occurred_at,
            user_id=_id(view.user_id),
            user_email=view.user_email,
            api_key_id=_id(view.api_key_id),
            provider=view.provider,
            model=view.model,
            operation=view.operation,
            status=view.status,
            error_code=view.error_code,
            prompt_tokens=BigInt(view.prompt_tokens),
            completion_tokens=BigInt(view.completion_tokens),
            cached_tokens=BigInt(view.cached_tokens),
            cache_write_tokens=BigInt(view.cache_write_tokens),
            estimated=view.estimated,
            latency_ms=BigInt(view.latency_ms),
            ttft_ms=None if view.ttft_ms is None else BigInt(view.ttft_ms),
            attempts=view.attempts,
            cost=None if view.cost is None else Decimal(view.cost),
            currency=view.currency,
            credits=None if view.credits is None else Decimal(view.credits),
        )


def _id(value: object | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


@strawberry.type
class Query:
    @strawberry.field(
        description="Usage totals per group, sorted by the groups in the order given; calls in"
        " different currencies are never added up (one total per currency). Members see their"
        " own calls only. Scope registry.read."
    )
    async def usage_totals(
        self,
        info: Info,
        group_by: Annotated[list[str] | None, strawberry.argument(description=_GROUPS)] = None,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=_USER)] = None,
        model: str | None = None,
        provider: str | None = None,
        client_request_id: Annotated[str | None, strawberry.argument(description=_CLIENT)] = None,
        since: Annotated[datetime.datetime | None, strawberry.argument(description=_SINCE)] = None,
        until: Annotated[datetime.datetime | None, strawberry.argument(description=_UNTIL)] = None,
    ) -> list[UsageTotal]:
        actor = info.context.need(REGISTRY_READ)
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
        totals = await info.context.registry.usage.totals(actor, filters, groups)
        return [UsageTotal.of(t) for t in totals]

    @strawberry.field(
        description="Recorded calls one by one, newest first; the same visibility as"
        " usageTotals. `first` is at most 500 (REST's events page takes up to 1000)."
        " Scope registry.read."
    )
    async def usage_events(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=_USER)] = None,
        model: str | None = None,
        provider: str | None = None,
        client_request_id: Annotated[str | None, strawberry.argument(description=_CLIENT)] = None,
        status: Annotated[
            str | None, strawberry.argument(description="ok, error or aborted")
        ] = None,
        since: Annotated[datetime.datetime | None, strawberry.argument(description=_SINCE)] = None,
        until: Annotated[datetime.datetime | None, strawberry.argument(description=_UNTIL)] = None,
    ) -> Connection[UsageEvent]:
        actor = info.context.need(REGISTRY_READ)
        at = window(first, after)
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
        page = await info.context.registry.usage.events(
            actor, filters, EventPage(limit=at.limit, offset=at.offset)
        )
        return from_page(page, at, UsageEvent.of)
