"""Usage rows into the database: multi-row ``INSERT ... ON CONFLICT (request_id) DO NOTHING``
statements, in a short transaction of their own per batch. A batch is cut into pieces of
power-of-two sizes up to 64 rows (500 rows: 7 x 64 + 32 + 16 + 4), so at most seven
statement shapes exist: each distinct row count is a distinct SQL text, which the drivers
keep prepared (SQLite up to 128 per connection, asyncpg 100), and a few hundred kilobytes
each for every batch size that came along grew the server's memory without bound. Pieces of
at most 64 rows also let requests be served between statements (``LARGEST_PIECE``).

In the same transaction, each newly stored row that carries ``charged_credits`` debits its
user's credit ledger (a row already stored, say a replay, debits nothing: the ledger follows
the usage rows exactly once).

Usage writes never queue behind configuration changes (no registry write lock); on SQLite
they open ``BEGIN IMMEDIATE`` like every writer there. A batch the database refuses for the
content of some rows is retried with references to since-deleted rows set to NULL, then row
by row, so one bad row never holds back the others. Any other failure (connection refused or
lost, timeout, locked database) is raised for the caller to park the batch; the writer then
rests, backing off exponentially, and logs the outage once and the recovery once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from modelyard.db.tables import UsageEvent
from modelyard.registry import ledger

Row = dict[str, Any]
log = logging.getLogger("modelyard.gateway.usage")
MAX_BACKOFF_S = 5.0
# Rows per statement at most: turning rows into SQL parameters runs on the event loop, and
# a request arriving meanwhile waits; between pieces it is served.
LARGEST_PIECE = 64


def is_row_error(exc: BaseException) -> bool:
    """The database refused what the rows hold, not its own state: retrying will not help."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)  # bind failure


class UsageWriter:
    def __init__(
        self, engine: AsyncEngine, *, timeout_s: float = 15.0, backoff_s: float = 0.2
    ) -> None:
        self.engine = engine
        self.timeout_s = timeout_s
        self.min_backoff_s = backoff_s
        self._backoff = 0.0
        self._retry_at = 0.0  # monotonic time before which the database is left alone
        table = UsageEvent.__table__
        assert isinstance(table, Table)
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        # RETURNING makes SQLAlchemy render one multi-row VALUES statement per batch (its
        # "insertmanyvalues", paged below the drivers' parameter limits) from a cached compile.
        self._insert = (
            dialect.insert(table)
            .on_conflict_do_nothing(index_elements=[table.c.request_id])
            .returning(table.c.id, table.c.request_id)
        )
        self._refs = [(fk.parent.name, fk.column) for fk in table.foreign_keys]

    def resting(self) -> bool:
        """True while backing off after a failure (an explicit flush may still try)."""
        return time.monotonic() < self._retry_at

    async def write(self, rows: Sequence[Row]) -> tuple[list[int], set[str]]:
        """Store ``rows`` (request ids already stored are skipped); return the indexes of the
        rows the database refused and the request ids newly stored. Raises when the database
        cannot take the batch now."""
        try:
            refused, stored = await self._write(rows)
        except Exception as exc:
            self._failed(exc)
            raise
        if self._backoff:
            log.info("database back: usage writes resumed")
            self._backoff = self._retry_at = 0.0
        return refused, stored

    async def _write(self, rows: Sequence[Row]) -> tuple[list[int], set[str]]:
        for unlink in (False, True):
            try:
                return [], await self._run(rows, unlink=unlink)
            except Exception as exc:
                if not is_row_error(exc):
                    raise
        refused: list[int] = []
        stored: set[str] = set()
        for index, row in enumerate(rows):
            try:
                stored |= await self._run([row], unlink=True)
            except Exception as exc:
                if not is_row_error(exc):
                    raise
                refused.append(index)
        return refused, stored

    async def _run(self, rows: Sequence[Row], *, unlink: bool) -> set[str]:
        async with asyncio.timeout(self.timeout_s), self.engine.connect() as plain:
            conn = await plain.execution_options(modelyard_write=True)
            async with conn.begin():
                if unlink:
                    rows = await self._unlink(conn, rows)
                params = [{**row, "id": uuid.uuid4()} for row in rows]
                stored: set[str] = set()
                for piece in pieces(params):
                    result = await conn.execute(self._insert, piece)
                    stored.update(str(r[1]) for r in result.all())
                charged = [r for r in rows if r["request_id"] in stored and r["charged_credits"]]
                if charged:
                    await _debit(conn, charged)
                return stored

    async def _unlink(self, conn: AsyncConnection, rows: Sequence[Row]) -> list[Row]:
        """Set references to rows that no longer exist to NULL, keeping the old ids in
        ``metadata.unlinked``: what ``ON DELETE SET NULL`` would have done a moment later."""
        fixed = [dict(row) for row in rows]
        for name, target in self._refs:
            wanted = {row[name] for row in fixed if row[name] is not None}
            if wanted:
                found = set(await conn.scalars(select(target).where(target.in_(wanted))))
                for row in fixed:
                    if row[name] is not None and row[name] not in found:
                        _unlink_one(row, name)
        return fixed

    def _failed(self, exc: Exception) -> None:
        if not self._backoff:
            reason = str(getattr(exc, "orig", None) or exc).split("\n", 1)[0]
            log.warning(
                "database unavailable for usage (%s: %s); rows wait in the outbox",
                type(exc).__name__,
                reason or "no answer",
            )
        self._backoff = min(max(self._backoff * 2, self.min_backoff_s), MAX_BACKOFF_S)
        self._retry_at = time.monotonic() + self._backoff


def pieces(rows: Sequence[Row], largest: int = LARGEST_PIECE) -> list[Sequence[Row]]:
    """``rows`` cut into runs whose lengths are powers of two up to ``largest``, largest
    first."""
    out: list[Sequence[Row]] = []
    start, left = 0, len(rows)
    while left:
        size = min(1 << (left.bit_length() - 1), largest)
        out.append(rows[start : start + size])
        start, left = start + size, left - size
    return out


async def _debit(conn: AsyncConnection, rows: Sequence[Row]) -> None:
    """One ledger debit per charged row, users locked in a fixed order (no deadlocks)."""
    session = AsyncSession(bind=conn, expire_on_commit=False)  # joins the open transaction
    try:
        users = sorted({row["user_id"] for row in rows}, key=str)
        for user_id in users:
            await ledger.lock_user(session, user_id)
        for row in rows:
            await ledger.debit(
                session,
                user_id=row["user_id"],
                amount=row["charged_credits"],
                kind="usage",
                now=row["occurred_at"],
                actor="gateway",
                request_id=row["request_id"],
            )
            await session.flush()
    finally:
        await session.close()


def _unlink_one(row: Row, name: str) -> None:
    meta = dict(row["metadata"] or {})
    meta["unlinked"] = {**meta.get("unlinked", {}), name: str(row[name])}
    row["metadata"] = meta
    row[name] = None
