"""The price of a call, in one place: its cost in money, its charge in credits, and the most
it may cost before it runs. Exact :class:`~decimal.Decimal` arithmetic, never floats.

* :func:`cost_of`: money and credits of the tokens a call used, at the price in force when it
  started (a price change later never rewrites an old call's cost);
* :func:`estimate`: the most a call may cost in credits, from its token budget at the dearest
  credit price among the candidates it may fall back to; the credit hold reserves this;
* :func:`round_credits`: charges are rounded up to the ledger's micro-credit.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_CEILING, Decimal
from typing import Protocol

from modelyard.adapters.base import Usage
from modelyard.db.types import CREDIT_UNIT

MONEY_PLACES = Decimal("0.0000000001")  # Money keeps 10 decimal places
ZERO = Decimal(0)


class Priced(Protocol):
    @property
    def input_per_mtok(self) -> Decimal: ...
    @property
    def output_per_mtok(self) -> Decimal: ...
    @property
    def cached_input_per_mtok(self) -> Decimal | None: ...
    @property
    def credits_per_1k(self) -> Decimal | None: ...


def round_credits(value: Decimal) -> Decimal:
    """Round up to whole micro-credits: a charge is never rounded in the user's favour
    below what was used, and never stored with more places than the ledger keeps."""
    return value.quantize(CREDIT_UNIT, rounding=ROUND_CEILING)


def cost_of(price: Priced, usage: Usage) -> tuple[Decimal, Decimal | None]:
    """Money and credits of ``usage`` at ``price``.

    Cached prompt tokens are charged at the cached-input price where there is one, else at
    the input price; credits (if the price has them) count every token."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_price = price.cached_input_per_mtok
    if cached_price is None:
        cached_price = price.input_per_mtok
    cost = (
        (usage.prompt_tokens - cached) * price.input_per_mtok
        + cached * cached_price
        + usage.completion_tokens * price.output_per_mtok
    ) / 1_000_000
    credits = None
    if price.credits_per_1k is not None:
        credits = round_credits(usage.total_tokens * price.credits_per_1k / 1000)
    return cost.quantize(MONEY_PLACES), credits


def estimate(prices: Iterable[Priced | None], tokens: int) -> Decimal:
    """The most a call of ``tokens`` may cost in credits at the dearest of ``prices`` (zero
    when none has a credit price)."""
    rates = [p.credits_per_1k for p in prices if p is not None and p.credits_per_1k]
    return round_credits(max(rates) * tokens / 1000) if rates else ZERO
