"""Recorded usage: totals grouped by any of day, user, model and provider, and the calls one
by one, with filters. Members see their own calls only; admins see everyone's.

Totals come from the daily roll-ups wherever they can answer (:mod:`modelyard.usage.totals`);
:meth:`UsageReport.totals_from_calls` sums the calls themselves, as Decimal in Python so both
engines agree to the last digit (SQLite would sum its text-stored amounts as floats): the
reference the roll-ups' answers are tested against, to the last digit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select

from modelyard.db.tables import UsageEvent, User
from modelyard.db.types import canonical
from modelyard.registry.actors import Actor
from modelyard.registry.common import Page
from modelyard.registry.tx import Database
from modelyard.usage import paging
from modelyard.usage import totals as rollup_totals
from modelyard.usage.filters import (
    DEFAULT_GROUPS,
    EVENTS_LIMIT,
    EVENTS_MAX,
    GROUPS,
    EventFilter,
    EventPage,
    Group,
    Status,
    UsageEventView,
    UsageFilter,
    UsageTotal,
    conditions,
    order_key,
    parse_groups,
)

__all__ = [
    "DEFAULT_GROUPS",
    "EVENTS_LIMIT",
    "EVENTS_MAX",
    "GROUPS",
    "EventFilter",
    "EventPage",
    "Group",
    "Status",
    "UsageEventView",
    "UsageFilter",
    "UsageReport",
    "UsageTotal",
    "conditions",
    "parse_groups",
]

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
        currency. Unpriced calls join the group's one priced currency, if there is one.
        Equal, field by field, to :meth:`totals_from_calls`, read mostly from the roll-ups."""
        groups = tuple(dict.fromkeys(group_by)) or DEFAULT_GROUPS
        async with self.db.read(actor) as tx:
            return await rollup_totals.totals(
                tx.session, self.db.is_postgres, actor, filters or UsageFilter(), groups
            )

    async def totals_from_calls(
        self,
        actor: Actor,
        filters: UsageFilter | None = None,
        group_by: Sequence[Group] = DEFAULT_GROUPS,
    ) -> list[UsageTotal]:
        """:meth:`totals` summed from the calls one by one: the reference (seconds at a
        million calls)."""
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
        return sorted(rows, key=lambda t: order_key(t, groups))

    async def events(
        self, actor: Actor, filters: EventFilter | None = None, page: EventPage | None = None
    ) -> Page[UsageEventView]:
        """The calls themselves, newest first; ``total`` counts every call the filters select
        (from the roll-ups where they can answer, see :mod:`modelyard.usage.paging`)."""
        p, f = page or EventPage(), filters or EventFilter()
        query = _events_query(actor, f)
        async with self.db.read(actor) as tx:
            total = await paging.count(tx.session, actor, f)
            if p.before is not None:
                query = query.where(*await paging.after(tx.session, actor, p.before))
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
            if p.before is not None:
                query = query.where(*await paging.after(tx.session, actor, p.before))
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


def _event(e: UsageEvent, email: str | None) -> UsageEventView:
    columns = {name: _RENAMED.get(name, name) for name in UsageEventView.model_fields}
    data = {name: getattr(e, column) for name, column in columns.items() if name != "user_email"}
    return UsageEventView.model_validate(data | {"user_email": email})
