"""Scalars beyond GraphQL's own.

- ``Decimal``: an exact amount (prices, costs, credits), written as a plain decimal string
  (``"0.0000001234"``, never an exponent), read from a string or an integer; a float is
  refused (it would already have lost digits).
- ``BigInt``: a 64-bit integer (token counts, limits, totals past GraphQL's 32-bit Int),
  written as a JSON number and read from a number or a decimal string.
- ``JSON``: any JSON value (setting values, provider config, audit snapshots).
- ``DateTime`` (ISO 8601 with a zone) comes from strawberry."""

from __future__ import annotations

import decimal
from typing import Any, NewType

import strawberry
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

from modelyard.registry.fields import INT64_MAX

INT64_MIN = -INT64_MAX - 1


def _amount_out(value: decimal.Decimal) -> str:
    text = str(value)  # the same digits as format(value, "f") unless it has an exponent
    return text if "E" not in text else format(value, "f")


def _amount_in(value: Any) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError('a Decimal is written as a string such as "0.15" (or an integer)')
    try:
        parsed = decimal.Decimal(value)
    except decimal.InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not parsed.is_finite():
        raise ValueError(f"{value!r} is not a finite decimal number")
    return parsed


def _int64_in(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a BigInt is an integer, not a boolean")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int):
        raise ValueError("a BigInt is an integer (or a string of digits)")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{value} does not fit in 64 bits")
    return value


def _int64_out(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{value} does not fit in 64 bits")
    return int(value)


Decimal = NewType("Decimal", decimal.Decimal)
BigInt = NewType("BigInt", int)

# Given to the schema's config (strawberry's scalar_map): fields annotated with the
# NewTypes above are these scalars.
SCALARS: dict[object, ScalarDefinition] = {
    Decimal: strawberry.scalar(
        name="Decimal",
        description='An exact decimal number written as a string, such as "0.15".',
        serialize=_amount_out,
        parse_value=_amount_in,
    ),
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A 64-bit integer (beyond GraphQL's 32-bit Int).",
        serialize=_int64_out,
        parse_value=_int64_in,
    ),
}

__all__ = ["JSON", "SCALARS", "BigInt", "Decimal"]
