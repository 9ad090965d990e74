"""Usage by day, and the biggest spenders, read from the daily roll-ups (``usage_daily``)
only: a chart over 90 days reads a few thousand summed rows, never the calls themselves.

Visibility is the usage report's (:mod:`modelyard.usage.report`): members see their own
usage only, whatever they ask; admins see everyone's, or one user's. Calls priced in
different currencies are never added up (one row per currency); unpriced calls join their
group's one priced currency, if there is one. Money is summed exactly in SQL (see
:mod:`modelyard.db.rollup`), so these totals equal the report's to the last digit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, false, func, select

from modelyard.db.rollup import (
    BY_MODEL,
    BY_PROVIDER,
    BY_USER,
    NO_NAME,
    NO_USER,
    SCALE,
    amount_of,
    coarsest,
    rows_of,
)
from modelyard.db.rollup_tables import UsageDaily
from modelyard.db.tables import User
from modelyard.errors import ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.common import Amount, View
from modelyard.registry.tx import Database

By = Literal["model", "provider", "user"]
TOP_MAX = 1000
_D = UsageDaily
_SUMS = (
    func.sum(_D.calls),
    func.sum(_D.errors),
    func.sum(_D.prompt_tokens),
    func.sum(_D.completion_tokens),
    func.sum(_D.cached_tokens),
    func.sum(_D.latency_ms_total),
    func.sum(_D.cost_whole),
    func.sum(_D.cost_frac),
    func.sum(_D.credits_whole),
    func.sum(_D.credits_frac),
    func.sum(_D.credited_calls),
)
_KEYS = {"model": _D.model_name, "provider": _D.provider_name, "user": _D.user_id}
_TOP_GRAINS = {"model": BY_MODEL, "provider": BY_PROVIDER, "user": BY_USER}


class DayTotal(View):
    """One day's usage in one currency (``None``: calls nobody priced)."""

    day: date
    calls: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    latency_ms_total: int
    cost: Amount
    currency: str | None
    credits: Amount | None


class TopTotal(View):
    """One model's, provider's or user's usage in one currency over a range. ``key`` is the
    model or provider name, or the user id as text; ``None`` for calls without one (a
    purged user's, say). ``label`` is the user's email (``None`` for models and providers)."""

    key: str | None
    label: str | None
    calls: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost: Amount
    currency: str | None
    credits: Amount | None


class RangeTotal(View):
    """A range's usage in one currency."""

    calls: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    latency_ms_total: int
    cost: Amount
    currency: str | None
    credits: Amount | None


@dataclass
class _Sum:
    """Sums with amounts as integer units of 10^-10 (made decimals only for the views)."""

    calls: int = 0
    errors: int = 0
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    latency: int = 0
    cost: int = 0
    credits: int | None = None

    @classmethod
    def of(cls, sums: Sequence[Any]) -> _Sum:
        calls, errors, prompt, completion, cached, latency, cw, cf, kw, kf, credited = sums
        return cls(
            int(calls),
            int(errors),
            int(prompt),
            int(completion),
            int(cached),
            int(latency),
            int(cw) * SCALE + int(cf),
            int(kw) * SCALE + int(kf) if int(credited) else None,
        )

    def merge(self, other: _Sum) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.prompt += other.prompt
        self.completion += other.completion
        self.cached += other.cached
        self.latency += other.latency
        self.cost += other.cost
        if other.credits is not None:
            self.credits = (self.credits or 0) + other.credits

    def fields(self, currency: str | None) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "cached_tokens": self.cached,
            "latency_ms_total": self.latency,
            "cost": amount_of(self.cost),
            "currency": currency,
            "credits": None if self.credits is None else amount_of(self.credits),
        }


class DailyUsage:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def series(
        self,
        actor: Actor,
        since: date,
        until: date,
        *,
        user_id: uuid.UUID | None = None,
        model: str | None = None,
        provider: str | None = None,
    ) -> list[DayTotal]:
        """Per day in [since, until], oldest first, one row per currency; days without calls
        are absent (the caller fills the gaps)."""
        where = _where(actor, since, until, user_id, model, provider, months=False)
        query = select(_D.day, _D.currency, *_SUMS).where(*where).group_by(_D.day, _D.currency)
        async with self.db.read(actor) as tx:
            rows = (await tx.session.execute(query)).all()
        buckets = _buckets(((day,), currency, sums) for day, currency, *sums in rows)
        out = [
            DayTotal(day=key[0], **total.fields(currency))
            for key, per_currency in buckets.items()
            for currency, total in per_currency.items()
        ]
        return sorted(out, key=lambda t: (t.day, t.currency is None, t.currency or ""))

    async def top(
        self,
        actor: Actor,
        by: By,
        since: date,
        until: date,
        limit: int = 10,
    ) -> list[TopTotal]:
        """The ``limit`` biggest models, providers or users over [since, until]: by cost,
        then calls, then key. Members asking by user get only themselves."""
        if by not in _KEYS:
            raise ValidationFailed.at("by", f"{by!r} is not one of model, provider, user")
        if not 1 <= limit <= TOP_MAX:
            raise ValidationFailed.at("limit", f"must be between 1 and {TOP_MAX}")
        column = _KEYS[by]
        where = _where(actor, since, until, None, None, None, _TOP_GRAINS[by])
        query = select(column, _D.currency, *_SUMS).where(*where).group_by(column, _D.currency)
        async with self.db.read(actor) as tx:
            rows = (await tx.session.execute(query)).all()
            buckets = _buckets(((key,), currency, sums) for key, currency, *sums in rows)
            ranked = sorted(
                (
                    (key, currency, total)
                    for (key,), c in buckets.items()
                    for currency, total in c.items()
                ),
                key=lambda r: (
                    -r[2].cost,
                    -r[2].calls,
                    r[0] in (NO_USER, NO_NAME),
                    str(r[0]),
                    r[1] or "",
                ),
            )[:limit]
            emails: dict[Any, str] = {}
            users = [key for key, _, _ in ranked if by == "user" and key != NO_USER]
            if users:
                found = await tx.session.execute(
                    select(User.id, User.email).where(User.id.in_(users))
                )
                emails = {uid: email for uid, email in found}
        out = []
        for raw, currency, total in ranked:
            fields = total.fields(currency)
            del fields["cached_tokens"], fields["latency_ms_total"]
            key = None if raw in (NO_USER, NO_NAME) else str(raw)
            out.append(TopTotal(key=key, label=emails.get(raw), **fields))
        return out

    async def totals(
        self,
        actor: Actor,
        since: date,
        until: date,
        *,
        user_id: uuid.UUID | None = None,
        model: str | None = None,
        provider: str | None = None,
    ) -> list[RangeTotal]:
        """The range's usage, one row per currency."""
        where = _where(actor, since, until, user_id, model, provider)
        query = select(_D.currency, *_SUMS).where(*where).group_by(_D.currency)
        async with self.db.read(actor) as tx:
            rows = (await tx.session.execute(query)).all()
        buckets = _buckets(((), currency, sums) for currency, *sums in rows)
        out = [
            RangeTotal(**total.fields(currency))
            for per_currency in buckets.values()
            for currency, total in per_currency.items()
        ]
        return sorted(out, key=lambda t: (t.currency is None, t.currency or ""))


def _where(
    actor: Actor,
    since: date,
    until: date,
    user_id: uuid.UUID | None,
    model: str | None,
    provider: str | None,
    grain: int | None = None,
    *,
    months: bool = True,
) -> list[ColumnElement[bool]]:
    """The roll-ups ``actor`` may see, restricted as asked (the usage report's rules), at
    the coarsest grain that keeps what is restricted (and ``grain``'s dimension); whole
    months from the monthly rows unless ``months`` is false (a series by day)."""
    if since > until:
        raise ValidationFailed.at("until", f"must not be before since ({since.isoformat()})")
    user: Any = user_id if actor.is_admin else actor.user_id
    where: list[ColumnElement[bool]] = []
    if not actor.is_admin and user is None:
        where.append(false())
    at_grain = coarsest(
        user=user is not None or grain == BY_USER,
        model=model is not None or grain == BY_MODEL,
        provider=provider is not None or grain == BY_PROVIDER,
    )
    end = None if until == date.max else until + timedelta(days=1)
    if months:
        where.append(rows_of(at_grain, since, end))
    else:
        where += [_D.grain == at_grain, _D.day >= since]
        if end is not None:
            where.append(_D.day < end)
    if user is not None:
        where.append(_D.user_id == user)
    if model is not None:
        where.append(_D.model_name == model)
    if provider is not None:
        where.append(_D.provider_name == provider)
    return where


def _buckets(
    rows: Iterable[tuple[tuple[Any, ...], str, Sequence[Any]]],
) -> dict[tuple[Any, ...], dict[str | None, _Sum]]:
    """Sums per group and currency; a group's unpriced calls join its one priced currency."""
    buckets: dict[tuple[Any, ...], dict[str | None, _Sum]] = {}
    for key, currency, sums in rows:
        per_currency = buckets.setdefault(key, {})
        name = currency or None
        total = _Sum.of(sums)
        if name in per_currency:  # cannot happen (grouped by currency), but stay exact
            per_currency[name].merge(total)
        else:
            per_currency[name] = total
    for per_currency in buckets.values():
        priced = [c for c in per_currency if c is not None]
        if None in per_currency and len(priced) == 1:
            per_currency[priced[0]].merge(per_currency.pop(None))
    return buckets
