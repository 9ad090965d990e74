"""Usage totals read from the daily roll-ups wherever they can answer, equal field by field
to the totals summed from the calls one by one
(:meth:`~modelyard.usage.report.UsageReport.totals_from_calls`).

The range [since, until) is cut (:mod:`modelyard.usage.span`) into whole UTC days, read from
``usage_daily`` at the coarsest grain that keeps every dimension grouped by or filtered on
(a chart of everyone's calls by day over 90 days sums ~180 rows, not 10 million), and the
partial days at its edges, read from the calls by an indexed range scan. What the roll-ups
cannot answer comes from the calls alone: a filter on the caller's own request id, a member
without a user (who sees the calls without one), a filter on an empty name or on the no-user
key (which the roll-ups share with calls that have none).

Both parts are added per group and currency as integers (amounts in units of 10^-10, as the
roll-ups keep them), so nothing rounds; the group's unpriced calls then join its one priced
currency, as the reference does, over the whole range. The calls' part is summed by
PostgreSQL (``sum`` of NUMERIC is exact); on SQLite (which would sum decimal text as floats)
in Python, as the reference does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.db.rollup import GRAINS, NO_USER, SCALE, amount_of, coarsest, rows_of
from modelyard.db.rollup_tables import UsageDaily
from modelyard.db.tables import User
from modelyard.registry.actors import Actor
from modelyard.usage.filters import Group, UsageFilter, UsageTotal
from modelyard.usage.from_calls import sum_calls
from modelyard.usage.span import Range, rest_of_day, split
from modelyard.usage.tally import Buckets, Key, Tally, add, take

_D = UsageDaily


def from_calls_only(actor: Actor, f: UsageFilter) -> bool:
    """Whether the roll-ups cannot answer ``f`` for ``actor`` (see the module's docstring)."""
    return (
        f.client_request_id is not None
        or (not actor.is_admin and actor.user_id is None)
        or f.user_id == NO_USER
        or "" in (f.model, f.provider)
    )


def kept(at_grain: int) -> set[Group]:
    """The dimensions the roll-up rows of ``at_grain`` keep."""
    names: tuple[Group, ...] = ("user", "model", "provider")
    return {name for name, on in zip(names, GRAINS[at_grain], strict=True) if on}


def grain(groups: Sequence[Group], actor: Actor, f: UsageFilter) -> int:
    """The coarsest roll-up grain keeping every dimension grouped by or filtered on."""
    return coarsest(
        user="user" in groups or f.user_id is not None or not actor.is_admin,
        model="model" in groups or f.model is not None,
        provider="provider" in groups or f.provider is not None,
    )


async def totals(
    session: AsyncSession, postgres: bool, actor: Actor, f: UsageFilter, groups: Sequence[Group]
) -> list[UsageTotal]:
    """The totals :meth:`~modelyard.usage.report.UsageReport.totals` answers, in its order."""
    buckets: Buckets = {}
    if postgres:  # one snapshot for every read below: a day's roll-ups and its calls agree
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    if from_calls_only(actor, f):
        await _calls(session, postgres, actor, f, groups, (f.since, f.until), buckets)
        edges: Iterable[Range] = ()
    else:
        span = split(f.since, f.until)
        if span.days is not None:
            await _from_rollups(session, actor, f, groups, span.days, buckets)
        edges = span.edges
    for edge in edges:
        rest = rest_of_day(edge)
        if rest is None:
            await _calls(session, postgres, actor, f, groups, edge, buckets)
            continue
        day, outside = rest  # the whole day, less the calls outside the edge
        whole: Buckets = {}
        await _from_rollups(session, actor, f, groups, (day, day + timedelta(1)), whole)
        away: Buckets = {}
        for part in outside:
            await _calls(session, postgres, actor, f, groups, part, away)
        if not take(whole, away):  # calls the roll-ups lack: read the edge itself
            await _calls(session, postgres, actor, f, groups, edge, buckets)
            continue
        for key, per_currency in whole.items():
            for currency, tally in per_currency.items():
                add(buckets, key, currency, tally)
    emails = await _emails(session, buckets, groups)
    rows = [
        (key, currency, tally)
        for key, per_currency in buckets.items()
        for currency, tally in merged(per_currency).items()
    ]
    rows.sort(key=sort_key(groups, emails))  # order_key's order, on the raw values
    return [view(groups, key, currency, tally, emails) for key, currency, tally in rows]


def sort_key(
    groups: Sequence[Group], emails: dict[uuid.UUID, str]
) -> Callable[[tuple[Key, str | None, Tally]], tuple[Any, ...]]:
    """The order of :func:`~modelyard.usage.filters.order_key` (nulls last; users by email,
    then id), read from a group's key and currency rather than from its built view."""

    def part(group: Group, value: Any) -> tuple[Any, ...]:
        if group == "user":
            return (value is None, emails.get(value, "") if value else "", str(value))
        if group == "day":
            return (value is None, str(value))
        return (value is None, value or "")

    def key(row: tuple[Key, str | None, Tally]) -> tuple[Any, ...]:
        dims, currency, _ = row
        parts = [part(g, v) for g, v in zip(groups, dims, strict=True)]
        return (*parts, currency is None, currency or "")

    return key


async def _from_rollups(
    session: AsyncSession,
    actor: Actor,
    f: UsageFilter,
    groups: Sequence[Group],
    days: tuple[date | None, date | None],
    buckets: Buckets,
) -> None:
    columns = {
        "day": _D.day,
        "user": _D.user_id,
        "model": _D.model_name,
        "provider": _D.provider_name,
    }
    dims = [columns[g] for g in groups]
    at_grain = grain(groups, actor, f)
    where = rollup_where(actor, f, at_grain, days, months="day" not in groups)
    read = (
        _D.calls,
        _D.errors,
        _D.prompt_tokens,
        _D.completion_tokens,
        _D.cost_whole,
        _D.cost_frac,
        _D.credits_whole,
        _D.credits_frac,
        _D.credited_calls,
    )
    if "day" in groups and {g for g in groups if g != "day"} == kept(at_grain):
        # each group and currency is one roll-up row: read the rows, nothing to add up
        query = select(*dims, _D.currency, *read).where(*where)
    else:
        sums = [func.sum(c) for c in read]
        query = select(*dims, _D.currency, *sums).where(*where).group_by(*dims, _D.currency)
    n = len(dims)
    conn = await session.connection()  # Core rows: the ORM's row machinery costs more here
    for row in await conn.execute(query):
        key = tuple(None if v in (NO_USER, "") else v for v in row[:n])
        values: tuple[Any, ...] = tuple(row[n:])
        currency, calls, errors, prompt, completion, cw, cf, kw, kf, credited = values
        tally = Tally(
            int(calls),
            int(errors),
            int(prompt),
            int(completion),
            int(cw) * SCALE + int(cf),
            int(kw) * SCALE + int(kf),
            int(credited),
        )
        add(buckets, key, currency or None, tally)


async def _calls(
    session: AsyncSession,
    postgres: bool,
    actor: Actor,
    f: UsageFilter,
    groups: Sequence[Group],
    edge: Range,
    buckets: Buckets,
) -> None:
    since, until = edge
    part = f.model_copy(update={"since": since, "until": until})
    await sum_calls(session, postgres, actor, part, groups, buckets)


def rollup_where(
    actor: Actor,
    f: UsageFilter,
    at_grain: int,
    days: tuple[date | None, date | None],
    *,
    months: bool = True,
) -> list[ColumnElement[bool]]:
    """The roll-up rows of ``at_grain`` over the whole days [first, end) that ``f`` selects
    for ``actor``: whole months from the monthly rows unless ``months`` is false (a report
    by day)."""
    first, end = days
    if months:
        where = [rows_of(at_grain, first, end)]
    else:
        where = [_D.grain == at_grain]
        if first is not None:
            where.append(_D.day >= first)
        if end is not None:
            where.append(_D.day < end)
    user = f.user_id if actor.is_admin else actor.user_id
    if user is not None:
        where.append(_D.user_id == user)
    if f.model is not None:
        where.append(_D.model_name == f.model)
    if f.provider is not None:
        where.append(_D.provider_name == f.provider)
    return where


def merged(per_currency: dict[str | None, Tally]) -> dict[str | None, Tally]:
    """A group's unpriced calls join its one priced currency, if there is one."""
    priced = [c for c in per_currency if c is not None]
    if None in per_currency and len(priced) == 1:
        per_currency[priced[0]].add(per_currency.pop(None))
    return per_currency


async def _emails(
    session: AsyncSession, buckets: Buckets, groups: Sequence[Group]
) -> dict[uuid.UUID, str]:
    if "user" not in groups:
        return {}
    at = list(groups).index("user")
    users = {key[at] for key in buckets if key[at] is not None}
    if not users:
        return {}
    found = await session.execute(select(User.id, User.email).where(User.id.in_(users)))
    return {uid: email for uid, email in found}


def view(
    groups: Sequence[Group],
    key: Key,
    currency: str | None,
    t: Tally,
    emails: dict[uuid.UUID, str],
) -> UsageTotal:
    """One group's totals."""
    dims = dict(zip(groups, key, strict=True))
    user = dims.get("user")
    return UsageTotal(
        day=dims.get("day"),
        user_id=user,
        user_email=emails.get(user) if user is not None else None,
        model=dims.get("model"),
        provider=dims.get("provider"),
        calls=t.calls,
        errors=t.errors,
        prompt_tokens=t.prompt,
        completion_tokens=t.completion,
        cost=amount_of(t.cost),
        currency=currency,
        credits=amount_of(t.credits) if t.credited else None,
    )
