"""The dashboard's figures from the roll-ups' days: every day of the range present (days
without calls as zeros), the range's totals, and the charts drawn from them.

Money stays exact (Decimal) and is never added across currencies: spend is one figure, and
one chart, per currency. Calls nobody priced have no currency (the roll-ups put them with
the day's one priced currency when there is one) and add no spend."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from markupsafe import Markup

from modelyard.api.web.console.charts import Number, Series, bars, line
from modelyard.api.web.console.filters import money, number
from modelyard.usage.daily import DayTotal

PLACES = 10  # amounts are stored to 10 decimals: shown exactly


@dataclass
class Day:
    day: date
    calls: int = 0
    errors: int = 0
    prompt: int = 0
    completion: int = 0
    latency_total: int = 0
    spend: dict[str, Decimal] = field(default_factory=dict)  # currency: amount

    @property
    def latency(self) -> int | None:
        """The average latency in whole milliseconds; None without calls."""
        return round(self.latency_total / self.calls) if self.calls else None


@dataclass(frozen=True)
class Chart:
    id: str
    heading: str
    svg: Markup
    legend: tuple[tuple[str, str], ...] = ()  # (css class, name) of stacked series


@dataclass
class Figures:
    days: list[Day]
    currencies: list[str]  # the priced ones, sorted
    calls: int = 0
    errors: int = 0
    prompt: int = 0
    completion: int = 0
    latency_total: int = 0
    spend: dict[str, Decimal] = field(default_factory=dict)
    credits: Decimal | None = None
    charts: list[Chart] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return self.prompt + self.completion

    @property
    def error_rate(self) -> str:
        """``2.5 %`` (one decimal), ``—`` without calls."""
        if not self.calls:
            return "—"
        return f"{Decimal(self.errors * 100) / Decimal(self.calls):.1f} %"

    @property
    def latency(self) -> int | None:
        return round(self.latency_total / self.calls) if self.calls else None


def figures(rows: Iterable[DayTotal], since: date, until: date) -> Figures:
    days = {
        since + timedelta(days=i): Day(since + timedelta(days=i))
        for i in range(_span(since, until))
    }
    found = Figures(days=list(days.values()), currencies=[])
    currencies: set[str] = set()
    for row in rows:
        day = days.get(row.day)
        if day is None:  # outside the range asked: cannot happen, but never count it
            continue
        day.calls += row.calls
        day.errors += row.errors
        day.prompt += row.prompt_tokens
        day.completion += row.completion_tokens
        day.latency_total += row.latency_ms_total
        if row.currency is not None:
            currencies.add(row.currency)
            day.spend[row.currency] = day.spend.get(row.currency, Decimal(0)) + row.cost
            found.spend[row.currency] = found.spend.get(row.currency, Decimal(0)) + row.cost
        if row.credits is not None:
            found.credits = (found.credits or Decimal(0)) + row.credits
        found.calls += row.calls
        found.errors += row.errors
        found.prompt += row.prompt_tokens
        found.completion += row.completion_tokens
        found.latency_total += row.latency_ms_total
    found.currencies = sorted(currencies)
    for day in found.days:
        day.spend = {c: day.spend.get(c, Decimal(0)) for c in found.currencies}
    if found.calls:
        found.charts = _charts(found)
    return found


def _span(since: date, until: date) -> int:
    return (until - since).days + 1


def _charts(f: Figures) -> list[Chart]:
    dates = [d.day for d in f.days]
    charts = []
    for currency in f.currencies:

        def spend(value: Number, currency: str = currency) -> str:
            return money(Decimal(value), currency, PLACES)

        values = [d.spend.get(currency, Decimal(0)) for d in f.days]
        charts.append(
            Chart(
                f"chart-spend-{currency.lower()}",
                f"Spend per day ({currency})",
                bars(
                    f"svg-spend-{currency.lower()}",
                    f"Spend per day in {currency}, total {spend(f.spend[currency])}",
                    currency,
                    dates,
                    [Series("spend", "bar", values)],
                    spend,
                ),
            )
        )
    calls = [Series("calls", "bar", [d.calls for d in f.days])]
    charts.append(
        Chart(
            "chart-calls",
            "Calls per day",
            bars(
                "svg-calls",
                f"Calls per day, {number(f.calls)} in all",
                "calls",
                dates,
                calls,
                _calls,
                whole=True,
            ),
        )
    )
    tokens = [
        Series("prompt", "bar", [d.prompt for d in f.days]),
        Series("completion", "bar-second", [d.completion for d in f.days]),
    ]
    charts.append(
        Chart(
            "chart-tokens",
            "Tokens per day",
            bars(
                "svg-tokens",
                f"Tokens per day: {number(f.prompt)} prompt and {number(f.completion)} completion",
                "tokens",
                dates,
                tokens,
                _tokens,
                whole=True,
            ),
            legend=(("bar", "Prompt tokens"), ("bar-second", "Completion tokens")),
        )
    )
    errors = [Series("errors", "bar-bad", [d.errors for d in f.days])]
    charts.append(
        Chart(
            "chart-errors",
            "Errors per day",
            bars(
                "svg-errors",
                f"Errors per day, {number(f.errors)} in all",
                "errors",
                dates,
                errors,
                _errors,
                whole=True,
            ),
        )
    )
    latency = Series("average latency", "point", [d.latency for d in f.days])
    charts.append(
        Chart(
            "chart-latency",
            "Average latency per day (ms)",
            line(
                "svg-latency",
                f"Average latency per day, {number(f.latency)} ms over the range",
                "ms",
                dates,
                latency,
                _ms,
            ),
        )
    )
    return charts


def _calls(value: Number) -> str:
    return f"{number(value)} call{'' if value == 1 else 's'}"


def _errors(value: Number) -> str:
    return f"{number(value)} error{'' if value == 1 else 's'}"


def _tokens(value: Number) -> str:
    return f"{number(value)} tokens"


def _ms(value: Number) -> str:
    return f"{number(value)} ms"
