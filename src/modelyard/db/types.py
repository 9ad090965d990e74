"""Column types that behave the same on SQLite and PostgreSQL.

* :class:`UTCDateTime` always returns timezone-aware UTC datetimes (SQLite drops the zone).
* :class:`Money` keeps :class:`~decimal.Decimal` exact: ``NUMERIC`` on PostgreSQL, text on
  SQLite (whose NUMERIC affinity would round-trip through a float); both read back in one
  canonical form (``0.15``, never ``0.1500000000``).
* :class:`Credits` keeps credit amounts as integer micro-credits: exact sums in SQL.
* :data:`JSONDoc` is ``JSONB`` on PostgreSQL and JSON text on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

JSONDoc = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use timezone-aware UTC values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Exact decimal amounts (20 digits, 10 after the point)."""

    impl = Numeric(20, 10)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(20, 10, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError("Money columns take Decimal values, never floats")
        return format(value, "f") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return canonical(value if isinstance(value, Decimal) else Decimal(str(value)))


def canonical(value: Decimal) -> Decimal:
    """One form for equal amounts on every engine: no trailing zeros, no exponent."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return Decimal(format(value.normalize(), "f"))


CREDIT_PLACES = 6
CREDIT_UNIT = Decimal(1).scaleb(-CREDIT_PLACES)  # one micro-credit, the smallest amount


class Credits(TypeDecorator[Decimal]):
    """Credit amounts, stored as integer micro-credits so that ``SUM`` is exact on every
    engine (SQLite would sum decimal text as floats). More than six decimal places is an
    error, never a silent rounding."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if not isinstance(value, Decimal | int) or isinstance(value, bool):
            raise TypeError("Credits columns take Decimal values, never floats")
        micro = Decimal(value).scaleb(CREDIT_PLACES)
        if micro != micro.to_integral_value():
            raise ValueError(f"{value} has more than {CREDIT_PLACES} decimal places")
        return int(micro)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return canonical(Decimal(int(value)).scaleb(-CREDIT_PLACES))
