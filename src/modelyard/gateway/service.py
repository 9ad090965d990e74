"""The gateway as one object: snapshot, pooled clients, limiter, circuit breaker, pipeline and
usage recorder, started and stopped together with the server."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from modelyard.adapters.base import Usage
from modelyard.billing.holds import CreditKeeper, Reservation
from modelyard.billing.renewal import BillingJob
from modelyard.gateway import entitlement as billing
from modelyard.gateway.breaker import CircuitBreaker
from modelyard.gateway.clients import Clients
from modelyard.gateway.limits import make_limiter
from modelyard.gateway.limits.base import Charge, Limiter, Scope, Slot
from modelyard.gateway.metrics import Metrics
from modelyard.gateway.pipeline import PARALLEL_WAIT_S, Attempted, Pipeline
from modelyard.gateway.refresh import SnapshotHolder
from modelyard.gateway.resolve import Resolution
from modelyard.gateway.snapshot import Billing, KeyEntry, Snapshot
from modelyard.registry.tx import Database
from modelyard.usage.recorder import UsageRecord, UsageRecorder, cost_of

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
    billing: Billing | None = None  # the caller's active plan; None: not billed
    reservation: Reservation | None = None
    slot: Slot | None = None  # the plan's parallel slot, held until the call is recorded


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
        billing_interval_s: float = 60.0,
    ) -> None:
        self.db = db
        self.holder = SnapshotHolder(db, refresh_interval_s)
        self.clients = Clients()
        self.breaker = CircuitBreaker()
        self.limiter = limiter or make_limiter(redis_url, redis_prefix)
        self.pipeline = Pipeline(self.clients, self.limiter, self.breaker)
        self.credits = CreditKeeper(db)
        self.billing = BillingJob(db, billing_interval_s)
        self.recorder = UsageRecorder(
            db.engine,
            outbox=outbox,
            on_done=lambda row, stored: self.credits.done(row.user_id, row.charged_credits, stored),
        )
        self.clock = db.clock
        self.metrics = Metrics()
        self._settling: set[asyncio.Task[None]] = set()
        self._adjustments: list[tuple[Charge, int]] = []
        self._adjuster: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.holder.start()
        await self.recorder.start()
        await self.credits.start()
        self.billing.start()

    async def stop(self) -> None:
        """Stop everything, each part even if another failed; usage is flushed first."""
        try:
            await self.billing.stop()
            await self.settled()
            await self.recorder.stop()
            await self.credits.stop()  # after the flush: charges are in the ledger
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

    async def admit(
        self, call: CallInfo, snap: Snapshot, resolution: Resolution, tokens: int
    ) -> None:
        """The caller's own limits (per API key, per user across their keys, per their plan),
        the plan's parallelism, then the credits the call may cost."""
        key, plan = call.key, call.billing
        scopes: list[Scope] = []
        if key.key_id is not None and (key.rpm_limit or key.tpm_limit):
            scopes.append((f"key:{key.key_id}", key.rpm_limit, key.tpm_limit))
        if key.user_rpm_limit or key.user_tpm_limit:
            scopes.append((f"user:{key.user_id}", key.user_rpm_limit, key.user_tpm_limit))
        if plan is not None and (plan.rpm_limit or plan.tpm_limit):
            scopes.append((f"plan:{key.user_id}", plan.rpm_limit, plan.tpm_limit))
        if scopes:  # one round trip for all of them (Redis)
            windows = await self.limiter.hit_many(scopes, tokens)
            for (name, _rpm, _tpm), window in zip(scopes, windows, strict=True):
                call.attempted.narrow(name, tokens, window)
        if plan is None:
            return
        if plan.max_parallel:
            call.slot = await self.limiter.acquire_slot(
                f"plan-parallel:{key.user_id}", plan.max_parallel, PARALLEL_WAIT_S
            )
        amount = billing.estimate(snap, resolution, tokens, call.at)
        if amount > 0:
            call.reservation = await self.credits.reserve(key.user_id, amount)

    def _settle(self, call: CallInfo, usage: Usage) -> None:
        """Correct the tpm windows this call charged at its budget to what it used, off the
        request path: queued, and applied by one task for all calls waiting (``settled``
        waits for it)."""
        charges = call.attempted.charges
        if not charges:
            return
        used = usage.prompt_tokens + usage.completion_tokens
        served = call.attempted.candidate
        served_id = served.provider.id if served is not None else None
        for c in charges:
            delta = (used if c.provider_id is None or c.provider_id == served_id else 0) - c.tokens
            if delta:
                self._adjustments.append((c, delta))
        if self._adjustments and self._adjuster is None:
            self._adjuster = asyncio.create_task(self._adjust())
            self._later_done(self._adjuster)

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` off the request path; ``stop`` waits for it."""
        self._later_done(asyncio.create_task(work))

    def _later_done(self, task: asyncio.Task[None]) -> None:
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _adjust(self) -> None:
        try:
            while self._adjustments:
                batch, self._adjustments = self._adjustments, []
                for charge, delta in batch:
                    try:
                        await self.limiter.add_tokens(charge.key, delta, charge.since)
                    except Exception:  # a limiter hiccup must not surface; the window ends
                        log.warning("could not settle tokens on %s", charge.key, exc_info=True)
        finally:
            self._adjuster = None

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
        charged = None
        if call.reservation is not None:
            charged = self.credits.settle(call.reservation, credits or Decimal(0))
            call.reservation = None
            if credits is not None and charged < credits:
                meta = {**(meta or {}), "credits_capped_from": format(credits, "f")}
        if call.slot is not None:
            self._later(call.slot.release())
            call.slot = None
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
                charged_credits=charged,
            )
        )


def make_gateway(db: Database, settings: Any) -> Gateway:
    return Gateway(
        db,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        outbox=settings.usage_outbox,
        refresh_interval_s=settings.refresh_interval_s,
        billing_interval_s=settings.billing_interval_s,
    )
