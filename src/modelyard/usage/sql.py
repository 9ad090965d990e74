"""Usage rows into ``usage_events`` with as few trips through the event loop as possible.

Under load the usage writer shares the event loop with every request, and each await of a
database call waits for the loop to come round. SQLAlchemy's multi-row ``insert()`` cost a
500-row batch ~90 such round trips (statement pieces, cursor calls) and ~40 us of CPU per
row in parameter processing: at a few thousand calls per second the writer fell behind and
its backlog grew without bound in memory. Here a piece of rows is one statement, the same
SQL text whatever its row count (one prepared statement), with every value already in the
form its column stores: each column type's own ``process_bind_param`` (our
:mod:`modelyard.db.types`) and a few plain conversions. A test writes the same rows this way
and through SQLAlchemy's insert and compares what is stored, column by column.

* SQLite: ``executemany`` of ``INSERT ... ON CONFLICT (request_id) DO NOTHING``; the row
  count says whether every row was new, else the new ids are looked up. (Unpacking one JSON
  parameter in SQL instead cost SQLite ~60 % more per row, and those longer database
  bursts, on the core the requests use, doubled the 1-connection p99 latency: measured.)
* PostgreSQL: one JSON array parameter that the server unpacks with
  ``jsonb_array_elements`` into ``INSERT ... SELECT ... RETURNING request_id``: one round
  trip, the unpacking done by the database server, not this process. The conflict target
  is ``(request_id, occurred_at)``: the table is partitioned by month (migration 0010) and
  PostgreSQL's unique keys there must hold the partition key; a replay carries its row's
  ``occurred_at`` unchanged, so it is still stored once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Integer, String, Table, TextClause, Uuid, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

from modelyard.ids import row_ids

Row = dict[str, Any]
_PG: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
Encode = Callable[[Any], Any]


class RowRefused(ValueError):
    """A row holds a value its column cannot store (found before the database is asked)."""


@dataclass(frozen=True)
class BulkInsert:  # not slotted: the cached properties live in its __dict__
    """How usage rows are stored on one engine: ``values`` turns rows into what their
    columns store (cheap, on the event loop), ``insert`` stores them."""

    sql: str
    table: str  # its name, quoted where the dialect needs it
    columns: tuple[str, ...]
    encoders: tuple[Encode, ...]
    many: bool  # SQLite: executemany; PostgreSQL: one JSON parameter

    def values(self, rows: Sequence[Row]) -> list[list[Any]]:
        """Each row as the list of what its columns store, after a fresh, time-ordered id
        (see :mod:`modelyard.ids`)."""
        get, convert = self._get, self._convert
        try:
            out: list[list[Any]] = []
            for new_id, row in zip(row_ids(len(rows)), rows, strict=True):
                values = [new_id, *get(row)]
                for index, encode in convert:
                    values[index] = encode(values[index])
                out.append(values)
            return out
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise RowRefused(f"a usage row cannot be stored: {exc}") from None

    async def insert(self, conn: AsyncConnection, values: list[list[Any]]) -> set[str]:
        """Store rows made by ``values`` (request ids already stored are skipped); the
        request ids newly stored."""
        if not self.many:
            result = await conn.execute(self._statement, {"rows": _dumps(values)})
            return {str(r[0]) for r in result}
        result = await conn.exec_driver_sql(self.sql, [tuple(v) for v in values])
        if result.rowcount == len(values):
            at = self._request_id_at
            return {v[at] for v in values}
        ids = [v[0] for v in values]  # some were skipped: which of ours are there?
        found = await conn.execute(self._stored, {"ids": ids})
        return {str(r[0]) for r in found}

    @cached_property
    def _request_id_at(self) -> int:
        return self.columns.index("request_id") + 1  # after the id

    @cached_property
    def _statement(self) -> TextClause:
        return text(self.sql)

    @cached_property
    def _stored(self) -> TextClause:
        lookup = f"SELECT request_id FROM {self.table} WHERE id IN :ids"  # noqa: S608
        return text(lookup).bindparams(bindparam("ids", expanding=True))

    @cached_property
    def _get(self) -> Callable[[Row], tuple[Any, ...]]:
        return itemgetter(*self.columns)

    @cached_property
    def _convert(self) -> tuple[tuple[int, Encode], ...]:
        """(position in a row's values, conversion) for each column that needs one."""
        return tuple(
            (index + 1, encode) for index, encode in enumerate(self.encoders) if encode is not _same
        )


def bulk_insert(table: Table, dialect: Dialect) -> BulkInsert:
    sqlite = dialect.name == "sqlite"
    names = [c.name for c in table.columns if c.name != "id"]
    encoders = tuple(_encoder(table.c[name].type, dialect) for name in names)
    quote = dialect.identifier_preparer.quote  # only where a name needs it
    columns = ", ".join(quote(name) for name in ["id", *names])
    into = f"INSERT INTO {quote(table.name)} ({columns})"
    if sqlite:
        marks = ", ".join("?" * (len(names) + 1))
        sql = f"{into} VALUES ({marks}) ON CONFLICT (request_id) DO NOTHING"
    else:
        casts = ["uuid", *(_pg_cast(table.c[name].type) for name in names)]
        picks = ", ".join(_pg_pick(i, cast) for i, cast in enumerate(casts))
        source = "jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS e(v, n) ORDER BY n"
        sql = (  # built from the table's own column names; the values are bound
            f"{into} SELECT {picks} FROM {source} "  # noqa: S608
            "ON CONFLICT (request_id, occurred_at) DO NOTHING RETURNING request_id"
        )
    return BulkInsert(sql, quote(table.name), tuple(names), encoders, sqlite)


def _dumps(values: list[list[Any]]) -> str:
    try:
        return orjson.dumps(values, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError as exc:  # orjson's JSONEncodeError: a value JSON cannot hold
        raise RowRefused(f"a usage row cannot be stored: {exc}") from None


def _encoder(kind: Any, dialect: Dialect) -> Encode:
    """What becomes of a value of column type ``kind`` before it is bound."""
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
    if isinstance(kind, JSON):
        return _json_text if sqlite else _same  # PostgreSQL: nested in the JSON parameter
    if isinstance(kind, String | Integer):  # Boolean is not an Integer
        return _same
    if isinstance(kind, Boolean):
        return _bool_int if sqlite else _bool
    return _scalar  # dates and decimals, after their TypeDecorator


def _same(value: Any) -> Any:
    return value


def _json_text(value: Any) -> str | None:
    """The document as JSON text: the same document SQLAlchemy's JSON type stores, written
    compactly and in UTF-8 (keys that are not strings become strings, as there)."""
    return None if value is None else orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


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
