"""The dashboard's SVG charts: round axis steps, short labels, every day present with its
title, text escaped, nothing the console's policy refuses (no style attribute, no script)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from modelyard.api.web.console.charts import Series, bars, line, nice_step, tick_label
from modelyard.api.web.console.dashboard_figures import figures
from modelyard.usage.daily import DayTotal

DAYS = [date(2026, 12, 1) + timedelta(days=i) for i in range(7)]


@pytest.mark.parametrize(
    ("top", "whole", "step"),
    [
        (0, False, 1.0),
        (10, False, 5.0),
        (7, False, 2.0),
        (3, True, 1.0),
        (3, False, 1.0),
        (0.0009, False, 0.0005),
        (1_234_567, False, 500_000.0),
        (1, True, 1.0),
    ],
)
def test_round_steps(top: float, whole: bool, step: float) -> None:
    assert nice_step(top, whole) == pytest.approx(step)


def test_short_labels() -> None:
    assert tick_label(1_500_000, 500_000) == "1.5M"
    assert tick_label(250_000, 50_000) == "250k"
    assert tick_label(1200, 200) == "1,200"
    assert tick_label(0.0005, 0.0005) == "0.0005"


def test_bars_have_every_day_and_escape_their_text() -> None:
    values: list[int | Decimal | None] = [0, 3, 0, 1, 0, 0, 2]
    svg = str(bars("c<1>", 'Calls "<b>"', "calls", DAYS, [Series("calls", "bar", values)], str))
    assert re.findall(r"<title>([^<]*)</title>", svg) == [
        f"{d.isoformat()}: {v}" for d, v in zip(DAYS, values, strict=True)
    ]
    assert "<b>" not in svg
    assert 'aria-label="Calls &#34;&lt;b&gt;&#34;"' in svg
    assert "style=" not in svg
    assert "<script" not in svg


def test_a_line_leaves_days_without_a_value_out() -> None:
    values: list[int | Decimal | None] = [100, None, 300, 200, None, None, 50]
    svg = str(line("l", "Latency", "ms", DAYS, Series("latency", "point", values), str))
    assert svg.count("<circle") == 4
    assert svg.count("<polyline") == 1  # the first and last days stand alone between gaps
    assert f"{DAYS[1].isoformat()}: no calls" not in svg


def test_figures_fill_every_day_and_keep_currencies_apart() -> None:
    def total(day: date, calls: int, cost: str, currency: str | None) -> DayTotal:
        return DayTotal(
            day=day,
            calls=calls,
            errors=1,
            prompt_tokens=10,
            completion_tokens=5,
            cached_tokens=0,
            latency_ms_total=100 * calls,
            cost=Decimal(cost),
            currency=currency,
            credits=None,
        )

    found = figures(
        [
            total(DAYS[1], 2, "0.0000000001", "USD"),
            total(DAYS[1], 1, "2", "EUR"),
            total(DAYS[3], 1, "0", None),
        ],
        DAYS[0],
        DAYS[-1],
    )
    assert [d.day for d in found.days] == DAYS
    assert found.spend == {"USD": Decimal("0.0000000001"), "EUR": Decimal(2)}
    assert found.calls == 4
    assert found.error_rate == "75.0 %"
    assert found.latency == 100
    assert found.days[0].spend == {"EUR": Decimal(0), "USD": Decimal(0)}
    assert [c.id for c in found.charts] == [
        "chart-spend-eur",
        "chart-spend-usd",
        "chart-calls",
        "chart-tokens",
        "chart-errors",
        "chart-latency",
    ]
    assert figures([], DAYS[0], DAYS[-1]).charts == []
