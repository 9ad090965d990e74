"""Usage as CSV: totals (one column per group asked for, then the sums) and calls one by one.

Amounts are written exactly as stored (``0.0000125``, never a float's ``1.25e-05``), times as
ISO 8601 UTC (``2030-01-02T03:04:05Z``), nothing as an empty cell.

Text a caller chose (its own request id from ``x-client-request-id``, a model or provider
name) could make
a spreadsheet run a formula when the file is opened: a text cell that begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is written after a ``'``, which spreadsheets
take as "this is text" (numbers and amounts are never touched)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, get_args

from modelyard.errors import ValidationFailed
from modelyard.usage.report import Group, UsageEventView, UsageTotal

Format = Literal["json", "csv"]
FORMATS: tuple[Format, ...] = get_args(Format)

_GROUP_COLUMNS: dict[Group, tuple[str, ...]] = {
    "day": ("day",),
    "user": ("user_id", "user_email"),
    "model": ("model",),
    "provider": ("provider",),
}
SUM_COLUMNS = (
    "calls",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "currency",
    "credits",
)
EVENT_COLUMNS = tuple(UsageEventView.model_fields)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def parse_format(value: str, where: str = "format") -> Format:
    found = next((f for f in FORMATS if f == value.strip()), None)
    if found is None:
        raise ValidationFailed.at(
            where, f"{value!r} is not a format; choose from {', '.join(FORMATS)}"
        )
    return found


def total_columns(groups: Sequence[Group]) -> tuple[str, ...]:
    return (*(c for g in groups for c in _GROUP_COLUMNS[g]), *SUM_COLUMNS)


def totals_csv(totals: Iterable[UsageTotal], groups: Sequence[Group], newline: str = "\r\n") -> str:
    columns = total_columns(groups)
    return _write(columns, ([getattr(t, c) for c in columns] for t in totals), newline)


def events_csv(events: Iterable[UsageEventView], newline: str = "\r\n") -> str:
    rows = ([getattr(e, c) for c in EVENT_COLUMNS] for e in events)
    return _write(EVENT_COLUMNS, rows, newline)


def _write(columns: Sequence[str], rows: Iterable[Sequence[Any]], newline: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(columns)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return _text(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
