"""Usage rows, written off the request path in batches, never lost.

``record()`` only appends to a buffer. A background task writes the buffer every
``flush_interval_s`` (or when ``batch_size`` rows wait) in one multi-row INSERT that skips
request ids already recorded, so a retried request is recorded once. If the database cannot
take a batch, the batch goes to a local outbox file (JSON lines, fsync'd) and is replayed,
idempotently, once the database answers again; ``stop()`` flushes everything, so a graceful
shutdown loses nothing. Cost is computed by modelyard from its own price, as Decimal.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import orjson
from sqlalchemy import Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.db.tables import UsageEvent
from modelyard.gateway.adapters.base import Usage

log = logging.getLogger("modelyard.gateway")
MILLION = Decimal(1_000_000)
PLACES = Decimal("0.0000000001")
MONEY_FIELDS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cost", "credits")
ID_FIELDS = ("user_id", "api_key_id", "provider_id", "model_id", "price_id")


class Priced(Protocol):
    @property
    def input_per_mtok(self) -> Decimal: ...
    @property
    def output_per_mtok(self) -> Decimal: ...
    @property
    def cached_input_per_mtok(self) -> Decimal | None: ...
    @property
    def credits_per_1k(self) -> Decimal | None: ...


@dataclass(frozen=True)
class UsageRecord:
    request_id: str
    occurred_at: datetime
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    provider_id: uuid.UUID | None
    model_id: uuid.UUID | None
    provider_name: str | None
    model_name: str | None
    operation: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    estimated: bool
    latency_ms: int
    ttft_ms: int | None
    attempts: int
    status: str
    error_code: str | None
    price_id: uuid.UUID | None
    input_per_mtok: Decimal | None
    output_per_mtok: Decimal | None
    cached_input_per_mtok: Decimal | None
    currency: str | None
    cost: Decimal | None
    credits: Decimal | None
    meta: dict[str, Any]

    def to_json(self) -> bytes:
        data = dataclasses.asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        for name in (*MONEY_FIELDS, *ID_FIELDS):
            data[name] = None if data[name] is None else str(data[name])
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, raw: bytes) -> UsageRecord:
        data = orjson.loads(raw)
        data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
        for name in MONEY_FIELDS:
            data[name] = None if data[name] is None else Decimal(data[name])
        for name in ID_FIELDS:
            data[name] = None if data[name] is None else uuid.UUID(data[name])
        return cls(**data)


def cost_of(price: Priced, usage: Usage) -> tuple[Decimal, Decimal | None]:
    """Money and credits of ``usage`` at ``price``: exact Decimal arithmetic, no floats.
    Cached prompt tokens are charged at the cached-input price where there is one."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_price = price.cached_input_per_mtok
    if cached_price is None:
        cached_price = price.input_per_mtok
    cost = (
        Decimal(usage.prompt_tokens - cached) * price.input_per_mtok
        + Decimal(cached) * cached_price
        + Decimal(usage.completion_tokens) * price.output_per_mtok
    ) / MILLION
    credits = None
    if price.credits_per_1k is not None:
        credits = (Decimal(usage.total_tokens) * price.credits_per_1k / 1000).quantize(PLACES)
    return cost.quantize(PLACES), credits


class UsageRecorder:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        outbox: Path,
        flush_interval_s: float = 0.2,
        batch_size: int = 500,
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.flush_interval_s = flush_interval_s
        self.batch_size = batch_size
        self._buffer: list[UsageRecord] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stopping = False

    def record(self, record: UsageRecord) -> None:
        self._buffer.append(record)
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    def pending(self) -> int:
        waiting = 0
        if self.outbox.exists():
            waiting = sum(1 for line in self.outbox.read_bytes().splitlines() if line.strip())
        return len(self._buffer) + waiting

    async def start(self) -> None:
        await self.flush()
        self._task = asyncio.create_task(self._loop(), name="modelyard-usage-writer")

    async def stop(self) -> None:
        """Let the writer finish what it is writing, then write everything left."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Replay the outbox, then write the buffer; what cannot be written goes to the outbox."""
        async with self._lock:
            await self._replay_outbox()
            while self._buffer:
                batch, self._buffer = (
                    self._buffer[: self.batch_size],
                    self._buffer[self.batch_size :],
                )
                try:
                    written = await self._insert(batch)
                except asyncio.CancelledError:  # committed or not, the outbox replay is safe
                    self._to_outbox(batch)
                    raise
                if not written:
                    self._to_outbox(batch)

    async def _loop(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            self._wake.clear()
            await self.flush()

    async def _insert(self, batch: list[UsageRecord]) -> bool:
        rows = [dataclasses.asdict(r) for r in batch]
        table = UsageEvent.__table__
        assert isinstance(table, Table)
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            statement: Any = pg_insert(table).on_conflict_do_nothing(index_elements=["request_id"])
        elif dialect == "sqlite":
            statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=["request_id"])
        else:  # pragma: no cover - only the two engines above are supported
            statement = insert(table)
        for row in rows:
            row["id"] = uuid.uuid4()
            row["metadata"] = row.pop("meta")
        try:
            async with self.engine.begin() as conn:
                await conn.execute(statement, rows)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            log.warning(
                "usage batch of %d not written (%s); kept in the outbox",
                len(batch),
                type(exc).__name__,
            )
            return False
        return True

    def _to_outbox(self, batch: list[UsageRecord]) -> None:
        with self.outbox.open("ab") as handle:
            handle.write(b"".join(r.to_json() + b"\n" for r in batch))
            handle.flush()
            os.fsync(handle.fileno())

    async def _replay_outbox(self) -> None:
        if not self.outbox.exists() or self.outbox.stat().st_size == 0:
            return
        lines = [line for line in self.outbox.read_bytes().splitlines() if line.strip()]
        records = [UsageRecord.from_json(line) for line in lines]
        for start in range(0, len(records), self.batch_size):
            if not await self._insert(records[start : start + self.batch_size]):
                return  # still down: keep the whole outbox (replays are idempotent)
        self.outbox.unlink()
