"""Recorded usage: totals grouped by any of day, user, model and provider, and the calls one
by one, with filters. Members see their own calls only; admins see everyone's. Money is
summed as Decimal in Python so both engines agree to the last digit (SQLite would sum its
text-stored amounts as floats)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, get_args

from pydantic import Field, ValidationInfo, field_validator
from sqlalchemy import ColumnElement, Select, func, select

from modelyard.db.tables import UsageEvent, User
from modelyard.db.types import canonical
from modelyard.errors import ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.common import Amount, Page, Spec, View
from modelyard.registry.fields import Instant, NonNegativeInt64
from modelyard.registry.tx import Database

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


_RENAMED = {"provider": "provider_name", "model": "model_name"}  # view field: column
_TOTAL_COLUMNS = (
    UsageEvent.occurred_at,
    UsageEvent.user_id,
    User.email,
    UsageEvent.model_name,
    UsageEvent.provider_name,
    UsageEvent.status,
    UsageEvent.prompt_tokens,
    UsageEvent.completion_tokens,
    UsageEvent.cost,
    UsageEvent.currency,
    UsageEvent.credits,
)


class UsageReport:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def totals(
        self,
        actor: Actor,
        filters: UsageFilter | None = None,
        group_by: Sequence[Group] = DEFAULT_GROUPS,
    ) -> list[UsageTotal]:
        """Totals per group, sorted by the groups in the order given (then currency). Calls
        priced in different currencies are never added up: such a group gives one row per
        currency. Unpriced calls join the group's one priced currency, if there is one."""
        groups = tuple(dict.fromkeys(group_by)) or DEFAULT_GROUPS
        query = (
            select(*_TOTAL_COLUMNS)
            .outerjoin(User, User.id == UsageEvent.user_id)
            .where(*conditions(actor, filters or UsageFilter()))
        )
        buckets: dict[tuple[Any, ...], dict[str | None, _Sum]] = {}
        async with self.db.read(actor) as tx:
            result = await tx.session.execute(query)
            for at, user_id, email, model, provider, status, *amounts in result:
                values = {"day": at.date(), "user": user_id, "model": model, "provider": provider}
                key = tuple(values[g] for g in groups)
                per_currency = buckets.setdefault(key, {})
                prompt, completion, cost, currency, credits = amounts
                total = per_currency.setdefault(currency, _Sum(email))
                total.add(status, prompt, completion, cost, credits)
        rows = []
        for key, per_currency in buckets.items():
            priced = [c for c in per_currency if c is not None]
            if None in per_currency and len(priced) == 1:
                per_currency[priced[0]].merge(per_currency.pop(None))
            dims = dict(zip(groups, key, strict=True))
            rows += [_total(dims, currency, t) for currency, t in per_currency.items()]
        return sorted(rows, key=lambda t: _order(t, groups))

    async def events(
        self, actor: Actor, filters: EventFilter | None = None, page: EventPage | None = None
    ) -> Page[UsageEventView]:
        """The calls themselves, newest first."""
        p = page or EventPage()
        query = _events_query(actor, filters or EventFilter())
        async with self.db.read(actor) as tx:
            total = await tx.session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await tx.session.execute(
                query.order_by(UsageEvent.occurred_at.desc(), UsageEvent.id.desc())
                .limit(p.limit)
                .offset(p.offset)
            )
            items = [_event(event, email) for event, email in rows]
        return Page(items=items, total=total or 0, limit=p.limit, offset=p.offset)

    async def browse(
        self, actor: Actor, filters: EventFilter | None = None, page: EventPage | None = None
    ) -> tuple[list[UsageEventView], bool]:
        """A page of :meth:`events` without their total, and whether more calls follow.
        Counting every match costs a pass over all of them (seconds at a million rows
        when a filter has no index); a page reads only up to its last row, plus one."""
        p = page or EventPage()
        query = (
            _events_query(actor, filters or EventFilter())
            .order_by(UsageEvent.occurred_at.desc(), UsageEvent.id.desc())
            .limit(p.limit + 1)
            .offset(p.offset)
        )
        async with self.db.read(actor) as tx:
            rows = (await tx.session.execute(query)).all()
        items = [_event(event, email) for event, email in rows[: p.limit]]
        return items, len(rows) > p.limit


def _events_query(actor: Actor, f: EventFilter) -> Select[UsageEvent, str]:
    where = conditions(actor, f)
    if f.status is not None:
        where.append(UsageEvent.status == f.status)
    return (
        select(UsageEvent, User.email).outerjoin(User, User.id == UsageEvent.user_id).where(*where)
    )


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


@dataclass
class _Sum:
    email: str | None
    calls: int = 0
    errors: int = 0
    prompt: int = 0
    completion: int = 0
    cost: Decimal = field(default_factory=Decimal)
    credits: Decimal | None = None

    def add(
        self,
        status: str,
        prompt: int,
        completion: int,
        cost: Decimal | None,
        credits: Decimal | None,
    ) -> None:
        self.calls += 1
        self.errors += status != "ok"
        self.prompt += prompt
        self.completion += completion
        self.cost += cost or Decimal(0)
        if credits is not None:
            self.credits = (self.credits or Decimal(0)) + credits

    def merge(self, other: _Sum) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.prompt += other.prompt
        self.completion += other.completion
        self.cost += other.cost
        if other.credits is not None:
            self.credits = (self.credits or Decimal(0)) + other.credits


def _total(dims: dict[Group, Any], currency: str | None, t: _Sum) -> UsageTotal:
    grouped_by_user = "user" in dims
    return UsageTotal(
        day=dims.get("day"),
        user_id=dims.get("user"),
        user_email=t.email if grouped_by_user else None,
        model=dims.get("model"),
        provider=dims.get("provider"),
        calls=t.calls,
        errors=t.errors,
        prompt_tokens=t.prompt,
        completion_tokens=t.completion,
        cost=canonical(t.cost),  # sums keep trailing zeros (0.0000150); stored amounts do not
        currency=currency,
        credits=None if t.credits is None else canonical(t.credits),
    )


def _order(t: UsageTotal, groups: Sequence[Group]) -> tuple[Any, ...]:
    """Nulls last in every group; users by email, then id."""
    parts: dict[Group, tuple[Any, ...]] = {
        "day": (t.day is None, str(t.day)),
        "user": (t.user_id is None, t.user_email or "", str(t.user_id)),
        "model": (t.model is None, t.model or ""),
        "provider": (t.provider is None, t.provider or ""),
    }
    return (*(parts[g] for g in groups), t.currency is None, t.currency or "")


def _event(e: UsageEvent, email: str | None) -> UsageEventView:
    columns = {name: _RENAMED.get(name, name) for name in UsageEventView.model_fields}
    data = {name: getattr(e, column) for name, column in columns.items() if name != "user_email"}
    return UsageEventView.model_validate(data | {"user_email": email})
