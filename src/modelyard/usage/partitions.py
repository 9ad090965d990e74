"""Keeping the monthly partitions of ``usage_events`` in shape (PostgreSQL; on SQLite every
call stays in one table and this does nothing).

One run (:func:`maintain`), in each replica every ``MODELYARD_PARTITION_INTERVAL_S`` and
from ``modelyard usage partitions --maintain``:

1. makes this month's partition and the next :data:`AHEAD` months' (through the parent:
   see :mod:`modelyard.db.partitions`), so calls never wait on DDL;
2. moves rows waiting in the default partition into their month's partition, made for them
   (and attaches again a month a run detached but, retention raised or unset since, keeps);
   rows of a month already past retention (a late replay of a dropped month) are deleted
   instead: their roll-ups were written with them;
3. with ``usage.retention_months`` set, drops each month older than that: detached first
   (no new row can enter it: a late one goes to the default partition), then its daily
   roll-ups are checked against its rows and refilled where they differ
   (:mod:`modelyard.usage.retention`), and only then dropped, with an audit event.

Replicas take turns through a PostgreSQL advisory lock, tried, never waited for: a replica
that finds it held skips the run (another is doing the same work). DDL waits at most
:data:`LOCK_TIMEOUT` for its locks (a long report could otherwise queue every writer behind
a waiting ``DETACH``); what times out is tried again on the next run.

The detach is not ``CONCURRENTLY``: PostgreSQL refuses that while a default partition
exists, and the default partition is what guarantees no call is ever refused. A plain
detach holds the parent's ``ACCESS EXCLUSIVE`` lock for a catalog change only
(milliseconds); writers wait that long, and nothing fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from modelyard.db import partitions as ddl
from modelyard.registry.actors import Actor
from modelyard.registry.system_settings import RETENTION_MONTHS, setting_value
from modelyard.registry.tx import Database
from modelyard.usage.retention import DROPPED_ACTION, Dropped, detached, drop_month

AHEAD = 3  # months made ahead of the current one
LOCK_KEY = 0x6D7970617274  # "mypart": one replica maintains at a time
LOCK_TIMEOUT = "2s"
log = logging.getLogger("modelyard.usage.partitions")
T = TypeVar("T")


@dataclass(frozen=True)
class Maintenance:
    """What one run did; ``ran`` is False when there was nothing to run on (SQLite, a table
    not partitioned) or another replica held the lock."""

    ran: bool
    created: list[str] = field(default_factory=list)  # made, or attached again
    dropped: list[Dropped] = field(default_factory=list)
    waited: list[str] = field(default_factory=list)  # partitions whose locks timed out
    discarded: list[str] = field(default_factory=list)  # late rows of months past retention


@dataclass(frozen=True)
class PartitionView:
    name: str
    month: date | None  # None: the default partition
    rows: int
    bytes: int
    attached: bool  # False: detached by a run that has not dropped it yet


async def maintain(db: Database, *, actor: Actor | None = None, ahead: int = AHEAD) -> Maintenance:
    """One maintenance run (see the module's docstring)."""
    engine = db.engine
    if engine.dialect.name != "postgresql":
        return Maintenance(ran=False)
    async with engine.connect() as conn:
        if not await _read(conn, ddl.is_partitioned):
            return Maintenance(ran=False)
        async with conn.begin():
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY})
        if not got:
            return Maintenance(ran=False)
        try:
            return await _run(db, conn, actor or Actor.operator("partitions"), ahead)
        finally:
            await _unlock(conn)


async def listing(db: Database) -> list[PartitionView]:
    """Every partition with its exact row count and size, the default first, then detached
    months a run has not dropped yet; empty on SQLite."""
    if db.engine.dialect.name != "postgresql":
        return []
    async with db.engine.connect() as conn:
        if not await conn.run_sync(ddl.is_partitioned):
            return []
        found = await conn.run_sync(lambda c: ddl.partitions(c, exact=True))
        loose = await conn.run_sync(detached)
    views = [PartitionView(p.name, p.month, p.rows, p.bytes, True) for p in found]
    return views + [PartitionView(p.name, p.month, p.rows, p.bytes, False) for p in loose]


async def _run(db: Database, conn: AsyncConnection, actor: Actor, ahead: int) -> Maintenance:
    this = ddl.month_of(db.clock())
    done = Maintenance(ran=True)
    months = await _retention(db, actor)
    keep_from = None if months is None else ddl.add_months(this, -months)
    for month in await _wanted(conn, this, ahead, keep_from, done):
        name = ddl.name_of(month)
        if await _ddl(conn, functools.partial(ddl.create_month, month=month), name, done):
            done.created.append(name)
    if keep_from is None:
        return done
    for part in await _read(conn, ddl.partitions):
        if part.month is not None and part.month < keep_from:
            await _ddl(conn, functools.partial(_detach, name=part.name), part.name, done)
    for part in await _read(conn, detached):  # also those an interrupted run left
        if part.month is not None and part.month < keep_from:
            try:
                dropped = await drop_month(db, actor, part.month, LOCK_TIMEOUT)
            except DBAPIError as exc:
                if not _timed_out(exc):
                    raise
                _waited(done, part.name)
                continue
            done.dropped.append(dropped)
            log.info("usage partition %s dropped (%d rows)", dropped.name, dropped.rows)
    return done


async def _wanted(
    conn: AsyncConnection, this: date, ahead: int, keep_from: date | None, done: Maintenance
) -> list[date]:
    """The months to make: this one and ``ahead`` more, those rows wait for in the default
    partition, and those detached but kept after all (retention raised or unset since).
    Rows waiting for a month retention already dropped are deleted instead
    (:func:`_discard`); a month past retention never dropped is made, then dropped with
    its roll-ups checked, as any other."""
    wanted = {ddl.add_months(this, n) for n in range(ahead + 1)}
    waiting = set(await _read(conn, ddl.default_months))
    past = {m for m in waiting if keep_from is not None and m < keep_from}
    late = await _read(conn, functools.partial(_dropped_before, months=past)) if past else set()
    wanted |= waiting - late
    for month in sorted(late):
        name = ddl.name_of(month)
        if await _ddl(conn, functools.partial(_discard, month=month), name, done):
            done.discarded.append(name)
    wanted |= {
        p.month
        for p in await _read(conn, detached)
        if p.month is not None and (keep_from is None or p.month >= keep_from)
    }
    return sorted(wanted)


def _dropped_before(conn: Connection, months: set[date]) -> set[date]:
    """Those of ``months`` a run dropped before (each drop is an audit event)."""
    names = {ddl.name_of(m): m for m in months}
    found = conn.scalars(
        text(
            "SELECT DISTINCT entity_id FROM audit_events WHERE action = :action "
            "AND entity_type = 'usage_partition' AND entity_id = ANY(:names)"
        ),
        {"action": DROPPED_ACTION, "names": list(names)},
    )
    return {names[name] for name in found}


def _discard(conn: Connection, month: date) -> bool:
    """Delete the default partition's rows of ``month``, a month past retention (a call
    replayed from the outbox after its month was dropped, a clock far off). Their daily
    roll-ups were added by the usage writer with the rows, so reports keep counting them;
    making the month again would instead drop it through ``drop_month``, whose check
    against its few rows would take the month's other days out of the roll-ups."""
    start, end = ddl.bounds(month)
    between = "occurred_at >= :start AND occurred_at < :end"
    found = conn.execute(
        text(f"DELETE FROM {ddl.DEFAULT} WHERE {between}"),  # noqa: S608 (constants)
        {"start": start, "end": end},
    )
    log.warning(
        "usage partition maintenance: %d late row(s) of %s, past retention, deleted (their "
        "roll-ups are kept)",
        found.rowcount,
        f"{month:%Y-%m}",
    )
    return True


async def _read(conn: AsyncConnection, query: Callable[[Connection], T]) -> T:
    """``query`` in a short transaction of its own (the DDL after it opens its own)."""
    async with conn.begin():
        return await conn.run_sync(query)


async def _ddl(
    conn: AsyncConnection, step: Callable[[Connection], Any], name: str, done: Maintenance
) -> bool:
    """Run ``step`` in a transaction of its own with the lock timeout; False (and the
    partition noted in ``done.waited``) when a lock was not had in time."""
    try:
        async with conn.begin():
            await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            return await conn.run_sync(step) is not False  # create_month: False, existed
    except DBAPIError as exc:
        if not _timed_out(exc):
            raise
        _waited(done, name)
        return False


def _timed_out(exc: DBAPIError) -> bool:
    return str(getattr(exc.orig, "sqlstate", "")) == "55P03"  # lock_not_available


def _waited(done: Maintenance, name: str) -> None:
    log.warning("usage partition %s: locks not had in %s; next run", name, LOCK_TIMEOUT)
    done.waited.append(name)


def _detach(conn: Connection, name: str) -> None:
    conn.execute(text(f"ALTER TABLE {ddl.PARENT} DETACH PARTITION {name}"))


async def _retention(db: Database, actor: Actor) -> int | None:
    async with db.read(actor) as tx:
        value = await setting_value(tx, RETENTION_MONTHS)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        log.warning("%s holds %r, not a number of months: nothing dropped", RETENTION_MONTHS, value)
        return None
    return value


async def _unlock(conn: AsyncConnection) -> None:
    """Give the lock back; a connection that cannot is closed (which gives it back too)
    rather than returned to the pool still holding it."""
    try:
        await conn.rollback()
        await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
        await conn.commit()
    except (SQLAlchemyError, OSError):
        with contextlib.suppress(SQLAlchemyError, OSError):
            await conn.invalidate()


class PartitionKeeper:
    """Runs :func:`maintain` every ``interval_s`` in the server (PostgreSQL only)."""

    def __init__(self, db: Database, interval_s: float) -> None:
        self.db = db
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval_s > 0 and self.db.is_postgres:
            self._task = asyncio.create_task(self._loop(), name="modelyard-usage-partitions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await maintain(self.db)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("usage partitions not maintained: %s", type(exc).__name__)
            except Exception:  # a bug must not end the upkeep for good: said, tried again
                log.exception("usage partitions not maintained")
            await asyncio.sleep(self.interval_s)
