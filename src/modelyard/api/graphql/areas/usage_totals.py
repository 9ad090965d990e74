"""The usage totals type, shared by ``usageTotals`` and the ``usage`` of providers and models."""

from __future__ import annotations

import datetime

import strawberry

from modelyard.api.graphql.scalars import BigInt, Decimal
from modelyard.usage.report import UsageTotal as UsageTotalView


@strawberry.type(description="One group's totals; the dimensions not grouped by are null.")
class UsageTotal:
    day: datetime.date | None
    user_id: strawberry.ID | None
    user_email: str | None
    model: str | None
    provider: str | None
    calls: BigInt
    errors: BigInt
    prompt_tokens: BigInt
    completion_tokens: BigInt
    cost: Decimal = strawberry.field(description="in `currency`; calls in another are apart")
    currency: str | None
    credits: Decimal | None

    @classmethod
    def of(cls, view: UsageTotalView) -> UsageTotal:
        return cls(
            day=view.day,
            user_id=strawberry.ID(str(view.user_id)) if view.user_id else None,
            user_email=view.user_email,
            model=view.model,
            provider=view.provider,
            calls=BigInt(view.calls),
            errors=BigInt(view.errors),
            prompt_tokens=BigInt(view.prompt_tokens),
            completion_tokens=BigInt(view.completion_tokens),
            cost=Decimal(view.cost),
            currency=view.currency,
            credits=Decimal(view.credits) if view.credits is not None else None,
        )
