"""Totals of recorded usage by day, user and model, with filters. Members see their own calls
only; admins see everyone's. Money is summed as Decimal in Python so both engines agree to
the last digit (SQLite would sum its text-stored amounts as floats)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime
from sqlalchemy import select

from modelyard.db.tables import UsageEvent, User
from modelyard.registry.actors import Actor
from modelyard.registry.common import Amount, Spec, View
from modelyard.registry.tx import Database


class UsageFilter(Spec):
    user_id: uuid.UUID | None = None
    model: str | None = None
    provider: str | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class UsageTotal(View):
    day: date
    user_id: uuid.UUID | None
    user_email: str | None
    model: str | None
    calls: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost: Amount
    currency: str | None


class UsageReport:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def totals(self, actor: Actor, filters: UsageFilter | None = None) -> list[UsageTotal]:
        f = filters or UsageFilter()
        query = select(
            UsageEvent.occurred_at,
            UsageEvent.user_id,
            User.email,
            UsageEvent.model_name,
            UsageEvent.status,
            UsageEvent.prompt_tokens,
            UsageEvent.completion_tokens,
            UsageEvent.cost,
            UsageEvent.currency,
        ).outerjoin(User, User.id == UsageEvent.user_id)
        user = f.user_id if actor.is_admin else actor.user_id
        if user is not None or not actor.is_admin:
            query = query.where(UsageEvent.user_id == user)
        if f.model is not None:
            query = query.where(UsageEvent.model_name == f.model)
        if f.provider is not None:
            query = query.where(UsageEvent.provider_name == f.provider)
        if f.since is not None:
            query = query.where(UsageEvent.occurred_at >= f.since)
        if f.until is not None:
            query = query.where(UsageEvent.occurred_at < f.until)
        groups: dict[tuple[date, uuid.UUID | None, str | None, str | None], _Sum] = {}
        async with self.db.read(actor) as tx:
            for (
                at,
                user_id,
                email,
                model,
                status,
                prompt,
                completion,
                cost,
                currency,
            ) in await tx.session.execute(query):
                key = (at.date(), user_id, model, currency)
                total = groups.setdefault(key, _Sum(email))
                total.add(status, prompt, completion, cost)
        ordered = sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2] or ""))
        return [
            UsageTotal(
                day=day,
                user_id=user_id,
                user_email=t.email,
                model=model,
                calls=t.calls,
                errors=t.errors,
                prompt_tokens=t.prompt,
                completion_tokens=t.completion,
                cost=t.cost,
                currency=currency,
            )
            for (day, user_id, model, currency), t in ordered
        ]


@dataclass
class _Sum:
    email: str | None
    calls: int = 0
    errors: int = 0
    prompt: int = 0
    completion: int = 0
    cost: Decimal = field(default_factory=Decimal)

    def add(self, status: str, prompt: int, completion: int, cost: Decimal | None) -> None:
        self.calls += 1
        self.errors += status != "ok"
        self.prompt += prompt
        self.completion += completion
        self.cost += cost or Decimal(0)
