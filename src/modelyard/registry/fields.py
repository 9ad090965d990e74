"""Input types bounded by the columns they are stored in, and what any stored text must be.

A value that validates here fits its column on SQLite and PostgreSQL alike, so a bad input
is a 422 naming the field, never a database error (a 500) after the fact:

* integers: :data:`Int32` columns (``Integer``) hold -2^31 .. 2^31-1 and :data:`Int64`
  (``BigInteger``, SQLite's INTEGER, ``OFFSET``) -2^63 .. 2^63-1; :data:`PositiveInt32`
  is the usual limit or size (rpm, tpm, parallelism, context window);
* :data:`Instant`: an aware datetime that converts to UTC within years 1..9999 (year 9999
  at -14:00 would overflow once stored as UTC);
* strings: each Spec gives its ``max_length``, the column's length;
* :func:`storable`: no text anywhere in an input (nested in JSON configs too) may hold NUL
  (PostgreSQL refuses ``\\x00`` in text and JSONB) or an unpaired surrogate (not UTF-8).
  :class:`~modelyard.registry.common.Spec` applies it to every field of every input.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

Int32 = Annotated[int, Field(ge=-(2**31), le=INT32_MAX)]
NonNegativeInt32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
PositiveInt32 = Annotated[int, Field(ge=1, le=INT32_MAX)]
Int64 = Annotated[int, Field(ge=-(2**63), le=INT64_MAX)]
NonNegativeInt64 = Annotated[int, Field(ge=0, le=INT64_MAX)]

# A day of margin at each end keeps every UTC offset (at most +-14:00 in practice, +-24h in
# Python) from carrying a time past year 9999 or before year 1.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range: times must fall within years 1 to 9999") from None
    if not EARLIEST <= utc <= LATEST:
        raise ValueError("is out of range: times must fall within years 1 to 9999")
    return utc


Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A timezone-aware time, converted to UTC, that every column can store."""


def unstorable(value: object, path: str = "") -> str | None:
    """Where in ``value`` a string holds NUL or an unpaired surrogate, else None."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{path}contains a NUL character (\\u0000)".strip()
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{path}contains an unpaired surrogate, which is not valid UTF-8".strip()
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = unstorable(key, f"{path}key {key!r} ") or unstorable(item, f"{path}{key}: ")
            if found:
                return found
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            found = unstorable(item, f"{path}[{index}]: ")
            if found:
                return found
    return None


def storable(value: Any) -> Any:
    """``value`` unchanged, or a ValueError saying where it holds unstorable text."""
    problem = unstorable(value)
    if problem:
        raise ValueError(problem)
    return value


__all__ = [
    "INT32_MAX",
    "INT64_MAX",
    "Instant",
    "Int32",
    "Int64",
    "NonNegativeInt32",
    "NonNegativeInt64",
    "PositiveInt32",
    "storable",
]
