"""The gateway as one object: snapshot, pooled clients, limiter, circuit breaker, pipeline and
usage recorder, started and stopped together with the server."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from modelyard.gateway.adapters.base import Usage
from modelyard.gateway.breaker import CircuitBreaker
from modelyard.gateway.clients import Clients
from modelyard.gateway.limits import make_limiter
from modelyard.gateway.limits.base import Charge, Limiter
from modelyard.gateway.metrics import Metrics
from modelyard.gateway.pipeline import Attempted, Pipeline
from modelyard.gateway.refresh import SnapshotHolder
from modelyard.gateway.snapshot import KeyEntry, Snapshot
from modelyard.gateway.usage import UsageRecord, UsageRecorder, cost_of
from modelyard.registry.tx import Database

LIMIT_CODES = {"LIMIT_EXCEEDED", "PROVIDER_BUSY"}
log = logging.getLogger("modelyard.gateway")


@dataclass
class CallInfo:
    """One call's bookkeeping, from the request line to its usage row."""

    request_id: str
    key: KeyEntry
    operation: str
    started: float
    at: datetime
    attempted: Attempted
    ttft_ms: int | None = None


class Gateway:
    def __init__(
        self,
        db: Database,
        *,
        redis_url: str | None = None,
        redis_prefix: str = "modelyard",
        outbox: Path = Path("./modelyard-usage.outbox"),
        refresh_interval_s: float = 1.0,
        limiter: Limiter | None = None,
    ) -> None:
        self.db = db
        self.holder = SnapshotHolder(db, refresh_interval_s)
        self.clients = Clients()
        self.breaker = CircuitBreaker()
        self.limiter = limiter or make_limiter(redis_url, redis_prefix)
        self.pipeline = Pipeline(self.clients, self.limiter, self.breaker)
        self.recorder = UsageRecorder(db.engine, outbox=outbox)
        self.clock = db.clock
        self.metrics = Metrics()
        self._settling: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.holder.start()
        await self.recorder.start()

    async def stop(self) -> None:
        """Stop everything, each part even if another failed; usage is flushed first."""
        try:
            await self.settled()
            await self.recorder.stop()
        finally:
            try:
                await self.holder.stop()
            finally:
                try:
                    await self.clients.close()
                finally:
                    await self.limiter.aclose()

    async def settled(self) -> None:
        """Wait until every finished call's tpm windows are settled."""
        while self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)

    def snapshot(self) -> Snapshot:
        return self.holder.get()

    def begin(self, request_id: str, key: KeyEntry, operation: str) -> CallInfo:
        return CallInfo(request_id, key, operation, time.perf_counter(), self.clock(), Attempted())

    async def limit_caller(self, call: CallInfo, tokens: int) -> None:
        """The caller's own limits: per API key, then per user across all their keys."""
        key = call.key
        for scope, ident, rpm, tpm in (
            ("key", key.key_id, key.rpm_limit, key.tpm_limit),
            ("user", key.user_id, key.user_rpm_limit, key.user_tpm_limit),
        ):
            if ident is not None and (rpm or tpm):
                name = f"{scope}:{ident}"
                window = await self.limiter.hit(name, rpm=rpm, tpm=tpm, tokens=tokens)
                call.attempted.narrow(name, tokens, window)

    def _settle(self, call: CallInfo, usage: Usage) -> None:
        """Correct the tpm windows this call charged at its budget to what it used, off the
        request path (a task; ``stop`` waits for those still running)."""
        charges = call.attempted.charges
        if not charges:
            return
        used = usage.prompt_tokens + usage.completion_tokens
        served = call.attempted.candidate
        served_id = served.provider.id if served is not None else None
        deltas = [
            (c, (used if c.provider_id is None or c.provider_id == served_id else 0) - c.tokens)
            for c in charges
        ]
        task = asyncio.create_task(self._adjust([(c, d) for c, d in deltas if d]))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _adjust(self, deltas: list[tuple[Charge, int]]) -> None:
        for charge, delta in deltas:
            try:
                await self.limiter.add_tokens(charge.key, delta, charge.since)
            except Exception:  # a limiter hiccup must not surface; the window ends anyway
                log.warning("could not settle tokens on %s", charge.key, exc_info=True)

    def record(
        self,
        snap: Snapshot,
        call: CallInfo,
        usage: Usage | None,
        status: str,
        error_code: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Hand one usage row to the batching recorder (no database on the request path)."""
        candidate = call.attempted.candidate
        usage = usage or Usage()
        self._settle(call, usage)
        price = snap.price_at(candidate.model.id, call.at) if candidate else None
        cost, credits = cost_of(price, usage) if price else (None, None)
        elapsed = time.perf_counter() - call.started
        self.metrics.call(
            provider=candidate.provider.name if candidate else "",
            model=candidate.model.model_id if candidate else "",
            operation=call.operation,
            status=status,
            seconds=elapsed,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=cost,
            currency=price.currency if price else None,
            attempts=call.attempted.attempts,
            fallbacks=call.attempted.fallbacks,
        )
        if error_code in LIMIT_CODES:
            self.metrics.rejected(error_code.lower())
        self.recorder.record(
            UsageRecord(
                request_id=call.request_id,
                occurred_at=call.at,
                user_id=call.key.user_id,
                api_key_id=call.key.key_id,
                provider_id=candidate.provider.id if candidate else None,
                model_id=candidate.model.id if candidate else None,
                provider_name=candidate.provider.name if candidate else None,
                model_name=candidate.model.model_id if candidate else None,
                operation=call.operation,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                estimated=usage.estimated,
                latency_ms=int(elapsed * 1000),
                ttft_ms=call.ttft_ms,
                attempts=call.attempted.attempts,
                status=status,
                error_code=error_code,
                price_id=price.id if price else None,
                input_per_mtok=price.input_per_mtok if price else None,
                output_per_mtok=price.output_per_mtok if price else None,
                cached_input_per_mtok=price.cached_input_per_mtok if price else None,
                currency=price.currency if price else None,
                cost=cost,
                credits=credits,
                meta=meta or {},
            )
        )


def make_gateway(db: Database, settings: Any) -> Gateway:
    return Gateway(
        db,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        outbox=settings.usage_outbox,
        refresh_interval_s=settings.refresh_interval_s,
    )
