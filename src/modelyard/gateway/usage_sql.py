"""Usage rows as one statement with one parameter: the rows travel as a JSON array of arrays
that the database unpacks itself (SQLite's ``json_each``, PostgreSQL's
``jsonb_array_elements``), into ``INSERT ... SELECT ... ON CONFLICT (request_id) DO NOTHING
RETURNING request_id``.

Why not SQLAlchemy's multi-row ``insert()``: under load, the usage writer shares the event
loop with every request, and each await of a database call waits for the loop to come
round. A 500-row batch cost ~90 such round trips there (statement pieces, cursor calls) and
~40 us of CPU per row for parameter processing, so at a few thousand calls per second the
writer fell behind and its backlog grew without bound in memory. Here a piece of any size
is a handful of awaits, the statement text never changes (one prepared statement, whatever
the row count), and the values are turned into what the column stores by each column type's
own ``process_bind_param`` (our :mod:`modelyard.db.types`) and a few plain conversions; a
test writes the same rows both ways and compares what is stored, column by column.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Integer, String, Table, TextClause, Uuid, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from modelyard.gateway.ids import row_ids

Row = dict[str, Any]
_PG: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
Encode = Callable[[Any], Any]


class RowRefused(ValueError):
    """A row holds a value its column cannot store (found before the database is asked)."""


@dataclass(frozen=True)
class BulkInsert:
    """The statement (bind ``rows``) and the function that makes its parameter."""

    statement: TextClause
    columns: tuple[str, ...]
    encoders: tuple[Encode, ...]

    def encode(self, rows: Sequence[Row]) -> str:
        """``rows`` as the JSON text the statement unpacks, each with a fresh, time-ordered
        id (see :mod:`modelyard.gateway.ids`)."""
        ids = row_ids(len(rows))
        try:
            pairs = tuple(zip(self.columns, self.encoders, strict=True))
            values = [
                [new_id, *(enc(row[name]) for name, enc in pairs)]
                for new_id, row in zip(ids, rows, strict=True)
            ]
            return orjson.dumps(values).decode()
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise RowRefused(f"a usage row cannot be stored: {exc}") from None


def bulk_insert(table: Table, dialect: Dialect) -> BulkInsert:
    sqlite = dialect.name == "sqlite"
    names = [c.name for c in table.columns if c.name != "id"]
    encoders = tuple(_encoder(table.c[name].type, dialect) for name in names)
    quote = dialect.identifier_preparer.quote  # only where a name needs it
    columns = ", ".join(quote(name) for name in ["id", *names])
    if sqlite:
        picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(names) + 1))
        source = "json_each(:rows) WHERE true"  # WHERE: ON CONFLICT would parse as a join's
    else:
        casts = ["uuid", *(_pg_cast(table.c[name].type) for name in names)]
        picks = ", ".join(_pg_pick(i, cast) for i, cast in enumerate(casts))
        source = "jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS e(v, n) ORDER BY n"
    statement = text(  # built from the table's own column names; values are bound
        f"INSERT INTO {quote(table.name)} ({columns}) SELECT {picks} FROM {source} "  # noqa: S608
        "ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
    )
    return BulkInsert(statement, tuple(names), encoders)


def _encoder(kind: Any, dialect: Dialect) -> Encode:
    """What becomes of a value of column type ``kind`` in the JSON parameter."""
    bind: Encode | None = None
    if isinstance(kind, TypeDecorator):
        process = kind.process_bind_param

        def bind(value: Any) -> Any:
            return process(value, dialect)

        kind = kind.impl_instance
    plain = _plain(kind, dialect.name == "sqlite")
    if bind is None:
        return plain
    outer = bind

    def both(value: Any) -> Any:
        return None if value is None else plain(outer(value))

    return both


def _plain(kind: Any, sqlite: bool) -> Encode:
    if isinstance(kind, Uuid):
        return _uuid_hex  # PostgreSQL reads the 32 digits as well
    if isinstance(kind, JSON | String | Integer):  # Boolean is not an Integer
        return _same
    if isinstance(kind, Boolean):
        return _bool_int if sqlite else _bool
    return _scalar  # dates and decimals, after their TypeDecorator


def _same(value: Any) -> Any:
    return value


def _uuid_hex(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


def _bool(value: bool | None) -> bool | None:
    return None if value is None else bool(value)


def _bool_int(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))


def _scalar(value: Any) -> Any:
    if isinstance(value, datetime):
        # SQLite: the naive UTC text SQLAlchemy writes; PostgreSQL: ISO 8601 with the zone.
        if value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _pg_cast(kind: Any) -> str | None:
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, JSON):
        return "jsonb"
    if isinstance(kind, Uuid):
        return "uuid"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, String):
        return None  # text, assigned (not cast) so that a too long value is refused
    return str(kind.compile(dialect=_PG))  # TIMESTAMP WITH TIME ZONE, NUMERIC(20, 10)...


def _pg_pick(index: int, cast: str | None) -> str:
    if cast == "jsonb":
        return f"(v -> {index})"
    if cast is None:
        return f"(v ->> {index})"
    return f"CAST(v ->> {index} AS {cast})"
