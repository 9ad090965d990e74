"""Sums of usage per group and currency, exact: counts, and amounts in integer units of
10^-10 (as the daily roll-ups keep them), so that the roll-ups' part of a report and the
calls' part add up without rounding (:mod:`modelyard.usage.totals`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

_WIDE = 80  # digits: sums of NUMERIC(20, 10) amounts, never rounded
Key = tuple[Any, ...]
Buckets = dict[Key, dict[str | None, "Tally"]]


@dataclass(slots=True)
class Tally:
    """One group's sums in one currency; amounts in integer units of 10^-10."""

    calls: int = 0
    errors: int = 0
    prompt: int = 0
    completion: int = 0
    cost: int = 0
    credits: int | None = None

    def add(self, other: Tally) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.prompt += other.prompt
        self.completion += other.completion
        self.cost += other.cost
        if other.credits is not None:
            self.credits = (self.credits or 0) + other.credits


def units(amount: Decimal | None) -> int:
    """An amount (at most ten places, as stored or summed) in units of 10^-10."""
    if amount is None:
        return 0
    with localcontext() as wide:
        wide.prec = _WIDE
        return int(amount.scaleb(10))


def add(buckets: Buckets, key: Key, currency: str | None, tally: Tally) -> None:
    per_currency = buckets.setdefault(key, {})
    found = per_currency.get(currency)
    if found is None:
        per_currency[currency] = tally
    else:
        found.add(tally)
