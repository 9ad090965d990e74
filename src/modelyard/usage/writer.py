"""Usage rows into the database: ``INSERT ... ON CONFLICT (request_id) DO NOTHING`` (on
PostgreSQL ``(request_id, occurred_at)``, the partition key being part of every key there)
statements of up to ``Pace.piece`` rows each, every one the same SQL text whatever its row count
(see :mod:`modelyard.usage.sql`), in a short transaction of their own per batch.
Turning rows into bound values runs on the event loop before the transaction opens, a
step of rows at a time (:class:`Pace`): writing usage shares a core with
the requests (measured: 650-row flushes every 0.2 s at 3,300 calls/s made the 1-connection
p99 several times the p50), so it takes the core in short turns with room between them for
the calls waiting (``PACED``). The recorder asks for that only while it keeps up (a backlog
of less than a batch); when rows pile up it writes ``BULK``: long statements, steps back to
back, so the writer is never paced below the rate calls arrive (measured: paced at 64
connections, 75,000 rows waited after 20 s; in bulk, none). Inside the transaction the
statements follow each other with only a turn of the loop between, so SQLite's write lock is
held briefly.

In the same transaction, the newly stored rows are added to the daily roll-ups
(:mod:`modelyard.db.rollup`), and each that carries ``charged_credits`` debits its user's
credit ledger (a row already stored, say a replay, adds and debits nothing: the roll-ups and
the ledger follow the usage rows exactly once).

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from modelyard.billing import ledger
from modelyard.db import rollup
from modelyard.db.tables import UsageEvent
from modelyard.usage.sql import RowRefused, bulk_insert

Row = dict[str, Any]
log = logging.getLogger("modelyard.usage.writer")
MAX_BACKOFF_S = 5.0


@dataclass(frozen=True)
class Pace:
    """How a batch takes the core: ``piece`` rows per statement at most (SQLite runs it in its
    own thread, on the same core), encoded ``step`` rows at a time with ``pause_s`` between
    two steps."""

    piece: int
    step: int
    pause_s: float


# While the writer keeps up: short turns with room between them for the calls waiting.
PACED = Pace(piece=100, step=50, pause_s=0.001)
# When rows pile up: long statements, steps back to back (a turn of the loop between).
BULK = Pace(piece=1000, step=100, pause_s=0.0)


def is_row_error(exc: BaseException) -> bool:
    """The database refused what the rows hold, not its own state: retrying will not help."""
    if isinstance(exc, IntegrityError | DataError | RowRefused):
        return True
    if isinstance(exc, DBAPIError):  # asyncpg's data errors arrive as the generic class
        sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
        return sqlstate[:2] in ("22", "23")  # data exception, integrity violation
    return isinstance(exc, StatementError)  # a value the driver could not bind


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
        self._insert = bulk_insert(table, engine.dialect)
        self._refs = [(fk.parent.name, fk.column) for fk in table.foreign_keys]

    def resting(self) -> bool:
        """True while backing off after a failure (an explicit flush may still try)."""
        return time.monotonic() < self._retry_at

    async def write(self, rows: Sequence[Row], *, pace: Pace = BULK) -> tuple[list[int], set[int]]:
        """Store ``rows`` (request ids already stored are skipped, and a request id twice in
        ``rows`` is stored from its first row); return the indexes of the rows the database
        refused and of the rows newly stored. Raises when the database cannot take the batch
        now."""
        try:
            refused, stored = await self._write(rows, pace)
        except Exception as exc:
            self._failed(exc)
            raise
        if self._backoff:
            log.info("database back: usage writes resumed")
            self._backoff = self._retry_at = 0.0
        return refused, stored

    async def _write(self, rows: Sequence[Row], pace: Pace) -> tuple[list[int], set[int]]:
        for unlink in (False, True):
            try:
                return [], _firsts(rows, await self._run(rows, unlink, pace))
            except Exception as exc:
                if not is_row_error(exc):
                    raise
                if isinstance(exc, RowRefused):
                    break  # a value no column can hold: unlinking will not help
        refused: list[int] = []
        stored: set[int] = set()
        for index, row in enumerate(rows):
            try:
                if await self._run([row], True, BULK):
                    stored.add(index)
            except Exception as exc:
                if not is_row_error(exc):
                    raise
                refused.append(index)
        return refused, stored

    async def _run(self, rows: Sequence[Row], unlink: bool, pace: Pace) -> set[str]:
        async with asyncio.timeout(self.timeout_s):
            # Encoded before the transaction opens (SQLite's write lock is held for less),
            # in steps that let requests be served in between.
            pieces = [] if unlink else await self._values(rows, pace)
            async with self.engine.connect() as plain:
                conn = await plain.execution_options(modelyard_write=True)
                async with conn.begin():
                    if unlink:
                        rows = await self._unlink(conn, rows)
                        pieces = await self._values(rows, BULK)
                    stored: set[str] = set()
                    for index, values in enumerate(pieces):
                        if index:  # the write lock is held: a turn of the loop, no pause
                            await asyncio.sleep(0)
                        stored |= await self._insert.insert(conn, values)
                    added = [rows[i] for i in sorted(_firsts(rows, stored))]
                    await rollup.add(conn, added)  # the daily roll-ups count each once
                    charged = [row for row in added if row["charged_credits"]]
                    if charged:
                        await _debit(conn, charged)
                    return stored

    async def _values(self, rows: Sequence[Row], pace: Pace) -> list[list[list[Any]]]:
        """The rows' stored values in pieces of ``pace.piece``, made ``pace.step`` rows at a
        time with ``pace.pause_s`` between."""
        pieces: list[list[list[Any]]] = []
        piece, step = pace.piece, pace.step
        for start in range(0, len(rows), piece):
            values: list[list[Any]] = []
            for at in range(start, min(start + piece, len(rows)), step):
                if at:
                    await asyncio.sleep(pace.pause_s)  # the calls' turn
                values += self._insert.values(rows[at : min(at + step, start + piece)])
            pieces.append(values)
        return pieces

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


def _firsts(rows: Sequence[Row], stored: set[str]) -> set[int]:
    """The indexes of the rows that were stored: for each newly stored request id, its first
    row (the one the insert kept: rows go in in order, and a repeat is skipped)."""
    out: dict[str, int] = {}
    for index, row in enumerate(rows):
        request_id = row["request_id"]
        if request_id in stored and request_id not in out:
            out[request_id] = index
    return set(out.values())


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
