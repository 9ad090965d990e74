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
    """One group's sums in one currency; amounts in integer units of 10^-10. ``credited``
    counts the calls with credits (none: the group's credits are null, not zero)."""

    calls: int = 0
    errors: int = 0
    prompt: int = 0
    completion: int = 0
    cost: int = 0
    credits: int = 0
    credited: int = 0

    def add(self, other: Tally, sign: int = 1) -> None:
        """Add ``other`` (``sign`` -1: take it away, as a part of a day from the day)."""
        self.calls += sign * other.calls
        self.errors += sign * other.errors
        self.prompt += sign * other.prompt
        self.completion += sign * other.completion
        self.cost += sign * other.cost
        self.credits += sign * other.credits
        self.credited += sign * other.credited


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


def take(buckets: Buckets, away: Buckets) -> bool:
    """``buckets`` less ``away`` (calls counted in both); groups left without calls go.
    False, ``buckets`` then unusable, if ``away`` holds calls ``buckets`` cannot (the two
    reads share one snapshot, so only calls stored without their roll-ups); the caller then
    reads the calls it wanted directly."""
    for key, per_currency in away.items():
        mine = buckets.get(key)
        for currency, tally in per_currency.items():
            found = None if mine is None else mine.get(currency)
            if mine is None or found is None or found.calls < tally.calls:
                return False
            found.add(tally, -1)
            if found.calls == 0:
                del mine[currency]
        if mine is not None and not mine:
            del buckets[key]
    return True
