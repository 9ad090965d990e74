"""Usage totals per provider or per model (the ``usage`` of a provider or a model), for many
at once: one query whatever the number, each answer split by currency as
:meth:`~modelyard.usage.report.UsageReport.totals` splits a group.

On PostgreSQL the database sums them (exactly: ``sum`` of NUMERIC) per id and currency; on
SQLite (which would sum decimal text as floats) the calls are summed here one by one. The
roll-ups cannot answer: they keep names, and an id outlives a rename."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select

from modelyard.db.tables import UsageEvent
from modelyard.errors import check
from modelyard.registry.actors import Actor
from modelyard.registry.tx import Database
from modelyard.usage.report import UsageFilter, UsageTotal, _Sum, _total, conditions
from modelyard.usage.tally import Tally, units
from modelyard.usage.totals import merged, view

Of = Literal["provider", "model"]
_COLUMNS = {"provider": UsageEvent.provider_id, "model": UsageEvent.model_id}


class UsageOf:
    """The ``usage`` relation of providers and models, batched."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def totals(
        self,
        actor: Actor,
        of: Of,
        ids: Sequence[uuid.UUID],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[list[UsageTotal]]:
        """Per id of ``ids`` (a provider's or a model's, as ``of`` says), in that order, the
        totals of the calls ``actor`` may see (a member: their own) from ``since`` to before
        ``until``: one row per currency, none when there were no calls. The dimensions (day,
        user, model, provider) are null: the id is the group."""
        filters: UsageFilter = check(UsageFilter, {"since": since, "until": until})
        column = _COLUMNS[of]
        if self.db.is_postgres:
            return await self._summed(actor, column, ids, filters)
        query = select(
            column,
            UsageEvent.status,
            UsageEvent.prompt_tokens,
            UsageEvent.completion_tokens,
            UsageEvent.cost,
            UsageEvent.currency,
            UsageEvent.credits,
        ).where(column.in_(set(ids)), *conditions(actor, filters))
        rows: dict[uuid.UUID | None, list[tuple[Any, ...]]] = {}
        async with self.db.read(actor) as tx:
            for owner, *values in await tx.session.execute(query):
                rows.setdefault(owner, []).append(tuple(values))
        return [currency_totals(rows.get(i, ())) for i in ids]

    async def _summed(
        self, actor: Actor, column: Any, ids: Sequence[uuid.UUID], filters: UsageFilter
    ) -> list[list[UsageTotal]]:
        query = (
            select(
                column,
                UsageEvent.currency,
                func.count(),
                func.count().filter(UsageEvent.status != "ok"),
                func.sum(UsageEvent.prompt_tokens),
                func.sum(UsageEvent.completion_tokens),
                func.sum(UsageEvent.cost),
                func.sum(UsageEvent.credits),
                func.count(UsageEvent.credits),
            )
            .where(column.in_(set(ids)), *conditions(actor, filters))
            .group_by(column, UsageEvent.currency)
        )
        sums: dict[uuid.UUID, dict[str | None, Tally]] = {}
        async with self.db.read(actor) as tx:
            for owner, currency, *values in await tx.session.execute(query):
                calls, errors, prompt, completion, cost, credits, credited = values
                tally = Tally(calls, errors, int(prompt), int(completion), units(cost))
                tally.credits, tally.credited = units(credits), int(credited)
                sums.setdefault(owner, {})[currency] = tally
        out = []
        for i in ids:
            found = [view((), (), c, t, {}) for c, t in merged(sums.get(i, {})).items()]
            out.append(sorted(found, key=lambda t: (t.currency is None, t.currency or "")))
        return out


def currency_totals(rows: Iterable[tuple[Any, ...]]) -> list[UsageTotal]:
    """One group's totals per currency (unpriced calls joining the one priced currency)
    from rows of (status, prompt, completion, cost, currency, credits), no dimensions."""
    sums: dict[str | None, _Sum] = {}
    for status, prompt, completion, cost, currency, credits in rows:
        sums.setdefault(currency, _Sum(None)).add(status, prompt, completion, cost, credits)
    priced = [c for c in sums if c is not None]
    if None in sums and len(priced) == 1:
        sums[priced[0]].merge(sums.pop(None))
    found = [_total({}, currency, t) for currency, t in sums.items()]
    return sorted(found, key=lambda t: (t.currency is None, t.currency or ""))


__all__ = ["Of", "UsageOf", "currency_totals"]
