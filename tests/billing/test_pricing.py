"""The price of a call in credits: its own credit price, else its USD cost at
``billing.credits_per_usd``; zero is free; no credit value is None; estimates and the
completion tokens a balance pays for are exact."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from modelyard.adapters.base import Usage
from modelyard.billing.pricing import Rate, affordable, cost_of, estimate, rate_of

PER_USD = Decimal(100)


@dataclass(frozen=True)
class Price:
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None
    credits_per_1k: Decimal | None = None
    currency: str = "USD"
    cache_write_per_mtok: Decimal | None = None


USD = Price(Decimal("2"), Decimal("8"), Decimal("1"))


def test_a_usd_price_without_credits_is_charged_its_cost_at_credits_per_usd() -> None:
    cost, credits = cost_of(USD, Usage(1000, 500, cached_tokens=400), PER_USD)
    assert cost == Decimal("0.0056")  # 600 * 2 + 400 * 1 + 500 * 8 per million
    assert credits == Decimal("0.56")
    assert cost_of(USD, Usage(1, 0), PER_USD)[1] == Decimal("0.0002")
    assert cost_of(USD, Usage(1, 0), Decimal("0.001"))[1] == Decimal("0.000001")  # rounded up


def test_a_credit_price_counts_every_token_and_wins_over_the_usd_cost() -> None:
    price = Price(Decimal("2"), Decimal("8"), credits_per_1k=Decimal("0.5"))
    assert cost_of(price, Usage(10, 10), PER_USD)[1] == Decimal("0.01")


@pytest.mark.parametrize(
    "price",
    [Price(Decimal(0), Decimal(0)), Price(Decimal(2), Decimal(8), credits_per_1k=Decimal(0))],
)
def test_a_zero_price_is_free(price: Price) -> None:
    assert cost_of(price, Usage(1000, 1000), PER_USD)[1] == 0
    assert estimate([rate_of(price, PER_USD)], 1000, 4096) == 0


def test_a_price_in_another_currency_without_credits_has_no_credit_value() -> None:
    eur = Price(Decimal(2), Decimal(8), currency="EUR")
    assert cost_of(eur, Usage(10, 10), PER_USD)[1] is None
    assert rate_of(eur, PER_USD) is None
    assert rate_of(None, PER_USD) is None


def test_the_estimate_is_the_dearest_candidate_and_affordable_inverts_it_exactly() -> None:
    rates = [Rate(Decimal("0.0002"), Decimal("0.0008")), Rate(Decimal("0.0005"), Decimal("0.0005"))]
    assert estimate(rates, 11, 4096) == Decimal("3.2790")  # 11 * 0.0002 + 4096 * 0.0008
    assert estimate([*rates, None], 11, 0) == Decimal("0.0055")
    for credits in (Decimal(3), Decimal("0.0153"), Decimal("2.999999"), Decimal("0.001")):
        tokens = affordable(rates, 11, credits)
        assert tokens is not None
        assert estimate(rates, 11, tokens) <= credits < estimate(rates, 11, tokens + 1) or (
            tokens == 0
        )
    assert affordable([Rate(Decimal(1), Decimal(0))], 11, Decimal(3)) is None  # free output
    above_a_third = Rate(Decimal(0), Decimal("0.3333333333333333333333333334"))
    assert affordable([above_a_third], 0, Decimal(1)) == 2  # 3 of them cost more than 1


CACHED = Price(Decimal("3"), Decimal("15"), Decimal("0.3"), cache_write_per_mtok=Decimal("3.75"))


def test_cache_writes_are_charged_at_the_cache_write_price() -> None:
    # 2213 prompt tokens: 2048 read from the cache, 120 written to it, 45 plain input
    usage = Usage(2213, 27, cached_tokens=2048, cache_write_tokens=120)
    cost, credits = cost_of(CACHED, usage, PER_USD)
    expected = (45 * Decimal(3) + 2048 * Decimal("0.3") + 120 * Decimal("3.75") + 27 * 15) / 10**6
    assert cost == expected == Decimal("0.0016044")
    assert credits == Decimal("0.16044")


def test_cache_writes_without_their_own_price_are_charged_as_input() -> None:
    usage = Usage(2213, 27, cached_tokens=2048, cache_write_tokens=120)
    plain = Price(Decimal("3"), Decimal("15"), Decimal("0.3"))
    assert cost_of(plain, usage)[0] == Decimal("0.0015144")  # 165 at 3: as before writes counted


def test_cache_counts_beyond_the_prompt_never_charge_more_tokens_than_it_had() -> None:
    usage = Usage(100, 0, cached_tokens=80, cache_write_tokens=50)  # a provider miscounting
    assert cost_of(CACHED, usage)[0] == (80 * Decimal("0.3") + 20 * Decimal("3.75")) / 10**6


def test_the_hold_rates_a_prompt_token_at_the_dearer_of_input_and_cache_write() -> None:
    rate = rate_of(CACHED, PER_USD)
    assert rate == Rate(Decimal("3.75") * PER_USD / 10**6, Decimal(15) * PER_USD / 10**6)
    cheap_writes = Price(Decimal("3"), Decimal("15"), cache_write_per_mtok=Decimal("1"))
    assert rate_of(cheap_writes, PER_USD) == Rate(Decimal("0.0003"), Decimal("0.0015"))
