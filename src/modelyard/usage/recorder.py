"""Usage rows, written off the request path in batches, never lost.

``record()`` only appends to a buffer. A background task writes the buffer every
``flush_interval_s`` (or as soon as ``batch_size`` rows wait) in one transaction of bulk
INSERTs that skip request ids already recorded, so a retried request is recorded once. Whatever the
database cannot take goes to a durable local outbox (:mod:`modelyard.usage.outbox`)
and is replayed, idempotently, once the database answers again; while it is away, new rows
join the outbox within one flush interval. ``stop()`` writes everything, into the database or
else into the outbox, so a graceful shutdown loses nothing.

Rows the database refuses for their content never hold back the others (see
:mod:`modelyard.usage.writer`); they are kept in the outbox's ``.rejected`` file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.usage.outbox import Outbox
from modelyard.usage.record import UsageRecord
from modelyard.usage.writer import BULK, PACED, Pace, UsageWriter

log = logging.getLogger("modelyard.usage.recorder")
REPLAY_BATCHES_PER_TICK = 20  # the periodic flush replays a backlog in bounded steps


@dataclass(frozen=True)
class Backlog:
    """Rows not in the database yet: in memory (buffered or being written), parked in the
    outbox, and when the oldest of them happened (None if unknown or none)."""

    memory: int
    outbox: int
    oldest: datetime | None

    @property
    def rows(self) -> int:
        return self.memory + self.outbox


class UsageRecorder:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        outbox: Path = Path("./modelyard-usage.outbox"),
        flush_interval_s: float = 0.2,
        batch_size: int = 1000,
        write_timeout_s: float = 15.0,
        on_done: Callable[[UsageRecord, bool], None] | None = None,
    ) -> None:
        self.writer = UsageWriter(engine, timeout_s=write_timeout_s, backoff_s=flush_interval_s)
        self.outbox = Outbox(outbox)
        self.flush_interval_s = flush_interval_s
        self.batch_size = batch_size
        self.on_done = on_done  # (row, newly stored): called once a row is settled
        self._buffer: list[UsageRecord] = []
        self._in_flight = 0
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._stopping = False

    def record(self, record: UsageRecord) -> None:
        """Take one row; O(1), never waits and never touches the database."""
        if self._closed:  # too late for the writer: straight into the outbox
            self.outbox.append([record.to_json()])
            return
        self._buffer.append(record)
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    def pending(self) -> int:
        """Rows recorded but not yet in the database (buffered, being written, or parked)."""
        return len(self._buffer) + self._in_flight + len(self.outbox)

    def backlog(self) -> Backlog:
        """What waits for the database, and when the oldest of it happened (for readiness:
        at most one short read of the outbox)."""
        oldest = self._buffer[0].occurred_at if self._buffer else None
        first = self.outbox.first()
        if first is not None:
            with contextlib.suppress(Exception):  # a torn line: its age is unknown
                oldest = UsageRecord.from_json(first).occurred_at
        return Backlog(len(self._buffer) + self._in_flight, len(self.outbox), oldest)

    async def start(self) -> None:
        """Replay what an earlier run left in the outbox, then write in the background."""
        if self._task is None:
            self.outbox.claim()
            self._closed = self._stopping = False
            await self.flush()
            self._task = asyncio.create_task(self._loop(), name="modelyard-usage-writer")

    async def stop(self) -> None:
        """Finish the batch being written, then write everything left (or park it)."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            self._wake.set()
            await asyncio.wait([task])
        await self.flush()
        self._closed = True
        self.outbox.release()

    async def flush(self) -> None:
        """Write everything now: the outbox first, then the buffer."""
        await self._flush(everything=True)

    async def _loop(self) -> None:
        try:
            while not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
                self._wake.clear()
                try:
                    await self._flush(everything=False)
                except Exception:  # never let the writer die: the rows are still held
                    log.exception("usage writer failed; retrying")
        except asyncio.CancelledError:
            self._park_now()
            raise

    async def _flush(self, *, everything: bool) -> None:
        async with self._lock:
            if not everything and self.writer.resting():
                await self._park_buffer()  # the database is away: keep rows durable meanwhile
                return
            if len(self.outbox):
                await self._park_buffer()  # keeps arrival order, and makes them durable now
                limit = None if everything else self.batch_size * REPLAY_BATCHES_PER_TICK
                if not await self._replay(limit):
                    return
            # A tick writes what was waiting when it began; rows arriving meanwhile wait for
            # the next tick, so a steady trickle of calls still makes full batches.
            due = len(self._buffer) if not everything else None
            while self._buffer and (due is None or due > 0):
                size = self.batch_size if due is None else min(self.batch_size, due)
                batch = self._buffer[:size]
                del self._buffer[:size]
                if due is not None:
                    due -= size
                if not await self._write(batch):
                    self._buffer[:0] = batch
                    await self._park_buffer()
                    return

    async def _replay(self, limit: int | None) -> bool:
        """Write parked rows; False if the database is still away."""
        done = 0
        while len(self.outbox) and (limit is None or done < limit):
            lines, end = self.outbox.read(self.batch_size)
            records, corrupt = _decode(lines)
            if records and not await self._write(records, parked=True):
                return False
            self.outbox.reject(corrupt)
            self.outbox.replayed(len(lines), end)
            done += len(lines)
        return True

    async def _write(self, batch: list[UsageRecord], *, parked: bool = False) -> bool:
        """Store a batch; False (the batch untouched) if the database cannot take it now."""
        self._in_flight = 0 if parked else len(batch)
        try:
            # Paced while it keeps up; in bulk when rows pile up (see usage/writer.py).
            pace = PACED if len(self._buffer) < self.batch_size else BULK
            rows = await _rows(batch, pace)
            rejected, stored = await self.writer.write(rows, pace=pace)
        except asyncio.CancelledError:
            if not parked:  # committed or not, parking is safe: replays are idempotent
                self.outbox.append([r.to_json() for r in batch])
            raise
        except Exception:  # the writer has logged the outage; the caller parks the batch
            return False
        finally:
            self._in_flight = 0
        if rejected:
            self.outbox.reject([batch[i].to_json() for i in rejected])
            log.error(
                "%d usage rows refused by the database, kept in %s (request ids: %s)",
                len(rejected),
                self.outbox.rejected_path,
                ", ".join(batch[i].request_id for i in rejected[:10]),
            )
        if self.on_done is not None:
            for index, record in enumerate(batch):
                self.on_done(record, index in stored)
        return True

    async def _park_buffer(self) -> None:
        batch, self._buffer = self._buffer, []
        if batch:
            self._in_flight = len(batch)
            try:
                await asyncio.to_thread(self.outbox.append, [r.to_json() for r in batch])
            except BaseException:  # e.g. a full disk: keep the rows in memory, try again
                self._buffer[:0] = batch
                raise
            finally:
                self._in_flight = 0

    def _park_now(self) -> None:
        batch, self._buffer = self._buffer, []
        self.outbox.append([r.to_json() for r in batch])


async def _rows(batch: Sequence[UsageRecord], pace: Pace) -> list[dict[str, Any]]:
    """The batch as rows, a step at a time with the pace's pause between (see
    :mod:`modelyard.usage.writer`): a flush never holds up the calls waiting for long."""
    rows: list[dict[str, Any]] = []
    for start in range(0, len(batch), pace.step):
        if start:
            await asyncio.sleep(pace.pause_s)
        rows += [r.to_row() for r in batch[start : start + pace.step]]
    return rows


def _decode(lines: Sequence[bytes]) -> tuple[list[UsageRecord], list[bytes]]:
    records: list[UsageRecord] = []
    corrupt: list[bytes] = []
    for line in lines:
        try:
            records.append(UsageRecord.from_json(line))
        except Exception as exc:  # whatever a torn or edited line makes of the parsing
            log.error("unreadable line in the usage outbox moved aside (%s)", exc)
            corrupt.append(line)
    return records, corrupt
