"""A page of calls at scale: its ``total`` counted from the daily roll-ups, and where it starts
when the caller names the last call it saw (keyset paging).

Counting 10 million matching calls is a pass over all of them (an index-only scan still
reads every entry); the roll-ups hold each day's count at every grain. The whole UTC days of
the range are summed there (``calls``, or ``calls - errors`` for ``status=ok``), the partial
days at the edges counted from the calls (an indexed range scan). ``error`` and ``aborted``
are one count in the roll-ups (``errors``), so those, and whatever else the roll-ups cannot
answer (:func:`~modelyard.usage.totals.from_calls_only`), are counted from the calls.

An offset makes the database step over every call before the page; ``before`` (a call's id)
starts the page right after that call in the newest-first order, on the index of
``(occurred_at, id)``, however deep the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.db.rollup_tables import UsageDaily
from modelyard.db.tables import UsageEvent
from modelyard.errors import ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.usage.filters import EventFilter, UsageFilter, conditions
from modelyard.usage.span import Range, split
from modelyard.usage.totals import from_calls_only, grain, rollup_where

_D = UsageDaily
_E = UsageEvent


async def count(session: AsyncSession, actor: Actor, f: EventFilter) -> int:
    """The number of calls ``f`` selects for ``actor``: what counting them one by one gives."""
    if from_calls_only(actor, f) or f.status not in (None, "ok"):
        return await _count_calls(session, actor, f, ((f.since, f.until),))
    span = split(f.since, f.until)
    total = 0
    if span.days is not None:
        where = rollup_where(actor, f, grain((), actor, f), span.days)
        calls: ColumnElement[int] = func.sum(_D.calls)
        if f.status == "ok":
            calls = calls - func.sum(_D.errors)
        total += int(await session.scalar(select(func.coalesce(calls, 0)).where(*where)) or 0)
    return total + await _count_calls(session, actor, f, span.edges)


async def _count_calls(
    session: AsyncSession, actor: Actor, f: EventFilter, ranges: Iterable[Range]
) -> int:
    total = 0
    for since, until in ranges:
        part = f.model_copy(update={"since": since, "until": until})
        where = conditions(actor, part)
        if f.status is not None:
            where.append(_E.status == f.status)
        total += int(await session.scalar(select(func.count()).where(*where)) or 0)
    return total


async def after(
    session: AsyncSession, actor: Actor, before: uuid.UUID
) -> list[ColumnElement[bool]]:
    """The conditions selecting the calls after ``before`` (a call ``actor`` may see) in the
    newest-first order: older, or as old with a smaller id."""
    visible = conditions(actor, UsageFilter())
    at = await session.scalar(select(_E.occurred_at).where(_E.id == before, *visible))
    if at is None:
        raise ValidationFailed.at("before", f"no call {before} that you can see")
    older = or_(_E.occurred_at < at, and_(_E.occurred_at == at, _E.id < before))
    return [_E.occurred_at <= at, older]  # the first bounds the index's range
