"""How the console writes numbers, money and times (Jinja2 filters on the pages'
environment): thousands separated, amounts exact (never through float), times in UTC."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from modelyard.api.web.render import environment


def number(value: Any) -> str:
    """``1234567`` → ``1,234,567``; a Decimal keeps its digits after the point."""
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return f"{value:,f}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{int(value):,}"


def money(value: Decimal | None, currency: str | None = None, places: int = 6) -> str:
    """An amount to at most ``places`` decimals (at least 2), trailing zeros dropped:
    ``0.000123 USD``; ``—`` when there is none."""
    if value is None:
        return "—"
    quantum = Decimal(1).scaleb(-places)
    text = f"{value.quantize(quantum):,f}".rstrip("0")
    whole, _, frac = text.partition(".")
    text = f"{whole}.{frac.ljust(2, '0')}"
    return f"{text} {currency}" if currency else text


def when(value: datetime | None) -> str:
    """``2026-12-05 13:04 UTC``."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def day(value: date | datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d")


environment.filters.update(number=number, money=money, when=when, day=day)
