"""The calls' part of a usage report (the partial days at a range's edges, or everything the
daily roll-ups cannot answer), summed per group and currency into :mod:`modelyard.usage.tally`
sums: by PostgreSQL (``sum`` of NUMERIC is exact; an indexed range scan), or on SQLite, which
would sum decimal text as floats, one call at a time here, as the reference report does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Date, Numeric, cast, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.db.tables import UsageEvent
from modelyard.registry.actors import Actor
from modelyard.usage.filters import Group, UsageFilter, conditions
from modelyard.usage.tally import Buckets, Tally, add, units

_E = UsageEvent
_EXACT = Numeric(asdecimal=True)


async def sum_calls(
    session: AsyncSession,
    postgres: bool,
    actor: Actor,
    f: UsageFilter,
    groups: Sequence[Group],
    buckets: Buckets,
) -> None:
    """Add the calls ``f`` selects for ``actor`` to ``buckets``, per group and currency."""
    read = _sum_pg if postgres else _sum_python
    await read(session, actor, f, groups, buckets)


def _day_pg() -> Any:
    return cast(func.timezone("UTC", _E.occurred_at), Date)


async def _sum_pg(
    session: AsyncSession, actor: Actor, f: UsageFilter, groups: Sequence[Group], buckets: Buckets
) -> None:
    """The calls of ``f``'s range summed by PostgreSQL, per group and currency."""
    columns = {
        "day": _day_pg(),
        "user": _E.user_id,
        "model": _E.model_name,
        "provider": _E.provider_name,
    }
    dims = [columns[g] for g in groups]
    query = (
        select(
            *dims,
            _E.currency,
            func.count(),
            func.count().filter(_E.status != "ok"),
            func.sum(_E.prompt_tokens),
            func.sum(_E.completion_tokens),
            type_coerce(func.sum(_E.cost), _EXACT),  # plain NUMERIC: no Money processing
            type_coerce(func.sum(_E.credits), _EXACT),
            func.count(_E.credits),
        )
        .where(*conditions(actor, f))
        .group_by(*dims, _E.currency)
    )
    n = len(dims)
    conn = await session.connection()  # Core rows: the ORM's row machinery costs more here
    for row in await conn.execute(query):
        currency, calls, errors, prompt, completion, cost, credits, credited = row[n:]
        tally = Tally(
            int(calls),
            int(errors),
            int(prompt or 0),
            int(completion or 0),
            units(cost),
            units(credits),
            int(credited),
        )
        add(buckets, tuple(row[:n]), currency, tally)


async def _sum_python(
    session: AsyncSession, actor: Actor, f: UsageFilter, groups: Sequence[Group], buckets: Buckets
) -> None:
    """The calls of ``f``'s range read one by one and summed here (SQLite)."""
    query = select(
        _E.occurred_at,
        _E.user_id,
        _E.model_name,
        _E.provider_name,
        _E.status,
        _E.prompt_tokens,
        _E.completion_tokens,
        _E.cost,
        _E.currency,
        _E.credits,
    ).where(*conditions(actor, f))
    for (
        at,
        user,
        model,
        provider,
        status,
        prompt,
        completion,
        cost,
        currency,
        credits,
    ) in await session.execute(query):
        values = {"day": at.date(), "user": user, "model": model, "provider": provider}
        tally = Tally(
            1,
            int(status != "ok"),
            prompt,
            completion,
            units(cost),
            units(credits),
            int(credits is not None),
        )
        add(buckets, tuple(values[g] for g in groups), currency, tally)
