"""What a usage report is asked (groups, filters, a page) and what it answers (totals per
group, calls one by one), and which calls a caller may see: shared by the report read from the
calls (:mod:`modelyard.usage.report`) and the one read from the daily roll-ups
(:mod:`modelyard.usage.totals`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Literal, get_args

from pydantic import Field, ValidationInfo, field_validator
from sqlalchemy import ColumnElement

from modelyard.db.tables import UsageEvent
from modelyard.errors import ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.common import Amount, Spec, View
from modelyard.registry.fields import Instant, NonNegativeInt64

Group = Literal["day", "user", "model", "provider"]
GROUPS: tuple[Group, ...] = get_args(Group)
DEFAULT_GROUPS: tuple[Group, ...] = ("day", "user", "model")
Status = Literal["ok", "error", "aborted"]
EVENTS_LIMIT, EVENTS_MAX = 100, 1000


def parse_groups(values: Iterable[str], where: str = "group_by") -> tuple[Group, ...]:
    """Group names, repeated and/or comma-separated (``day,model``), in the order given;
    none at all means :data:`DEFAULT_GROUPS`."""
    groups: list[Group] = []
    for value in values:
        for part in value.split(","):
            name = part.strip()
            group = next((g for g in GROUPS if g == name), None)
            if group is None:
                raise ValidationFailed.at(
                    where, f"{name!r} is not a group; choose from {', '.join(GROUPS)}"
                )
            if group not in groups:
                groups.append(group)
    return tuple(groups) or DEFAULT_GROUPS


class UsageFilter(Spec):
    user_id: uuid.UUID | None = None
    model: str | None = None
    provider: str | None = None
    client_request_id: str | None = Field(default=None, min_length=1, max_length=100)
    since: Instant | None = None
    until: Instant | None = None

    @field_validator("until")
    @classmethod
    def _after_since(cls, until: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if until is not None and since is not None and since > until:
            raise ValueError(f"must not be before since ({since.isoformat()})")
        return until


class EventFilter(UsageFilter):
    status: Status | None = None


class EventPage(Spec):
    limit: int = Field(default=EVENTS_LIMIT, ge=1, le=EVENTS_MAX)
    offset: NonNegativeInt64 = 0
    # The id of the last call seen: the page starts right after it (keyset paging, as fast
    # at any depth as the first page); the offset then counts from there.
    before: uuid.UUID | None = None


class UsageTotal(View):
    """One group's totals; the fields not grouped by are null."""

    day: date | None
    user_id: uuid.UUID | None
    user_email: str | None
    model: str | None
    provider: str | None
    calls: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost: Amount
    currency: str | None
    credits: Amount | None


class UsageEventView(View):
    """One recorded call (no secrets: the key is named by its id only)."""

    id: uuid.UUID
    request_id: str  # the server's, unique
    client_request_id: str | None  # the caller's own (x-client-request-id), not unique
    occurred_at: datetime
    user_id: uuid.UUID | None
    user_email: str | None
    api_key_id: uuid.UUID | None
    provider: str | None
    model: str | None
    operation: str
    status: str
    error_code: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int  # read from the provider's prompt cache
    cache_write_tokens: int  # written to it
    estimated: bool
    latency_ms: int
    ttft_ms: int | None
    attempts: int
    cost: Amount | None
    currency: str | None
    credits: Amount | None


def conditions(actor: Actor, f: UsageFilter) -> list[ColumnElement[bool]]:
    """What restricts the rows to those ``actor`` may see and ``f`` asks for."""
    where = []
    user = f.user_id if actor.is_admin else actor.user_id
    if user is not None or not actor.is_admin:
        where.append(UsageEvent.user_id == user)
    if f.model is not None:
        where.append(UsageEvent.model_name == f.model)
    if f.provider is not None:
        where.append(UsageEvent.provider_name == f.provider)
    if f.client_request_id is not None:
        where.append(UsageEvent.client_request_id == f.client_request_id)
    if f.since is not None:
        where.append(UsageEvent.occurred_at >= f.since)
    if f.until is not None:
        where.append(UsageEvent.occurred_at < f.until)
    return where


def order_key(t: UsageTotal, groups: Sequence[Group]) -> tuple[Any, ...]:
    """Nulls last in every group; users by email, then id."""
    parts: dict[Group, tuple[Any, ...]] = {
        "day": (t.day is None, str(t.day)),
        "user": (t.user_id is None, t.user_email or "", str(t.user_id)),
        "model": (t.model is None, t.model or ""),
        "provider": (t.provider is None, t.provider or ""),
    }
    return (*(parts[g] for g in groups), t.currency is None, t.currency or "")
