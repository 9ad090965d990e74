"""The price of a call, in one place: its cost in money, its charge in credits, and the most
it may cost before it runs. Exact :class:`~decimal.Decimal` arithmetic, never floats.

A price is worth credits in one of two ways: its own ``credits_per_1k`` (every token, prompt
or completion, at that rate), else its USD cost at ``credits_per_usd`` credits per dollar
(the ``billing.credits_per_usd`` setting). A price in another currency without
``credits_per_1k``, like no price at all, has no credit value: :func:`rate_of` is None and
the gateway refuses or flags the call (``billing.unpriced_models``). A price of zero is free.

* :func:`cost_of`: money and credits of the tokens a call used, at the price in force when it
  started (a price change later never rewrites an old call's cost);
* :func:`estimate`: the most a call may cost in credits, from its prompt and completion
  tokens at the dearest rate among the candidates it may fall back to; the hold reserves it;
* :func:`affordable`: the completion tokens a number of credits pays for after the prompt,
  at the dearest rate (a call the balance cannot cover is sent with ``max_tokens`` capped);
* :func:`round_credits`: charges are rounded up to the ledger's micro-credit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Protocol

from modelyard.adapters.base import Usage
from modelyard.db.types import CREDIT_UNIT

MONEY_PLACES = Decimal("0.0000000001")  # Money keeps 10 decimal places
ZERO = Decimal(0)
MTOK = 1_000_000
USD = "USD"


class Priced(Protocol):
    @property
    def input_per_mtok(self) -> Decimal: ...
    @property
    def output_per_mtok(self) -> Decimal: ...
    @property
    def cached_input_per_mtok(self) -> Decimal | None: ...
    @property
    def cache_write_per_mtok(self) -> Decimal | None: ...
    @property
    def credits_per_1k(self) -> Decimal | None: ...
    @property
    def currency(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Rate:
    """Credits per prompt token (at its dearest: a token written to the prompt cache may
    cost more than input) and per completion token of one price."""

    prompt: Decimal
    completion: Decimal


def round_credits(value: Decimal) -> Decimal:
    """Round up to whole micro-credits: a charge is never rounded in the user's favour
    below what was used, and never stored with more places than the ledger keeps."""
    return value.quantize(CREDIT_UNIT, rounding=ROUND_CEILING)


def rate_of(price: Priced | None, credits_per_usd: Decimal) -> Rate | None:
    """What a token costs in credits at ``price``; None when the price has no credit value."""
    if price is None:
        return None
    if price.credits_per_1k is not None:
        per_token = price.credits_per_1k / 1000
        return Rate(per_token, per_token)
    if price.currency != USD:
        return None
    prompt = max(price.input_per_mtok, price.cache_write_per_mtok or ZERO)
    return Rate(prompt * credits_per_usd / MTOK, price.output_per_mtok * credits_per_usd / MTOK)


def cost_of(
    price: Priced, usage: Usage, credits_per_usd: Decimal | None = None
) -> tuple[Decimal, Decimal | None]:
    """Money and credits of ``usage`` at ``price``.

    ``usage.prompt_tokens`` counts every prompt token: those read from the provider's prompt
    cache (``cached_tokens``) are charged at the cached-input price, those written to it
    (``cache_write_tokens``) at the cache-write price, each at the input price where the
    price has none, and the rest at the input price. Credits: ``credits_per_1k`` counts
    every token; without it a USD price is worth its exact cost times ``credits_per_usd``;
    otherwise None (no credit value)."""
    prompt = usage.prompt_tokens
    cached = min(usage.cached_tokens, prompt)
    written = min(usage.cache_write_tokens, prompt - cached)
    read_price, write_price = price.cached_input_per_mtok, price.cache_write_per_mtok
    cost = (
        (prompt - cached - written) * price.input_per_mtok
        + cached * (price.input_per_mtok if read_price is None else read_price)
        + written * (price.input_per_mtok if write_price is None else write_price)
        + usage.completion_tokens * price.output_per_mtok
    ) / MTOK
    credits = None
    if price.credits_per_1k is not None:
        credits = round_credits(usage.total_tokens * price.credits_per_1k / 1000)
    elif credits_per_usd is not None and price.currency == USD:
        credits = round_credits(cost * credits_per_usd)
    return cost.quantize(MONEY_PLACES), credits


def estimate(rates: Iterable[Rate | None], prompt: int, completion: int) -> Decimal:
    """The most a call of ``prompt`` + ``completion`` tokens may cost in credits at the
    dearest of ``rates`` (zero when none has a credit value, or all are free)."""
    costs = [prompt * r.prompt + completion * r.completion for r in rates if r is not None]
    return round_credits(max(costs)) if costs else ZERO


def affordable(rates: Iterable[Rate | None], prompt: int, credits: Decimal) -> int | None:
    """The most completion tokens ``credits`` pays for after ``prompt`` at every one of
    ``rates`` (never below 0); None when completion tokens are free at all of them. Exact:
    ``estimate(rates, prompt, affordable(...)) <= credits``."""
    most: Decimal | None = None
    for rate in rates:
        if rate is None or rate.completion <= 0:
            continue
        left = credits - prompt * rate.prompt
        tokens = (left / rate.completion).to_integral_value(rounding=ROUND_FLOOR)
        if tokens * rate.completion > left:  # the division rounded up past an exact bound
            tokens -= 1
        most = tokens if most is None else min(most, tokens)
    return None if most is None else max(0, int(most))
