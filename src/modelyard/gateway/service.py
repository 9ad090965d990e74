"""The gateway's parts, started and stopped together with the server: the snapshot and the
OAuth access tokens known under it, pooled upstream clients, the limiter and what settles
it, the circuit breaker, the pipeline, credit holds, the billing clock, metrics, the usage
recorder and the upkeep of its partitions. A call itself is
:class:`modelyard.gateway.call.Call`; this module only owns the parts it uses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.billing.holds import CreditKeeper
from modelyard.billing.renewal import BillingJob
from modelyard.gateway.breaker import CircuitBreaker
from modelyard.gateway.clients import Clients
from modelyard.gateway.deadlines import Deadlines
from modelyard.gateway.drain import Streams
from modelyard.gateway.limits import make_limiter
from modelyard.gateway.limits.base import Limiter
from modelyard.gateway.limits.settle import Settler
from modelyard.gateway.metrics import Metrics
from modelyard.gateway.pipeline import Pipeline
from modelyard.gateway.refresh import SnapshotHolder
from modelyard.gateway.snapshot import Snapshot
from modelyard.gateway.tokens import TokenCache
from modelyard.registry.tx import Database
from modelyard.settings import Settings
from modelyard.usage.partitions import PartitionKeeper
from modelyard.usage.recorder import UsageRecorder
from modelyard.usage.stored_responses import ResponseStore

if TYPE_CHECKING:
    from modelyard.telemetry.tracing import Tracing


class Gateway:
    def __init__(
        self,
        db: Database,
        *,
        redis_url: str | None = None,
        redis_prefix: str = "modelyard",
        redis_timeout_s: float = 1.0,
        outbox: Path = Path("./modelyard-usage.outbox"),
        refresh_interval_s: float = 1.0,
        limiter: Limiter | None = None,
        billing_interval_s: float = 60.0,
        body_timeout_s: float = 30.0,
        tracing: Tracing | None = None,
        log_ids: bool = False,
        partition_interval_s: float = 0.0,
        credit_hold_ttl_s: float = 120.0,
    ) -> None:
        self.db = db
        self.log_ids = log_ids  # the log lines carry request ids (JSON logs)
        self.tracing = tracing  # None: traces are off (the hot path checks this alone)
        self.body_timeout_s = body_timeout_s  # a request body must arrive within this
        self.deadlines = Deadlines()  # ... kept without a timer per request
        self.holder = SnapshotHolder(db, refresh_interval_s)
        self.tokens = TokenCache(db)  # OAuth access tokens, per snapshot generation
        self.clients = Clients(tracing)
        self.breaker = CircuitBreaker()
        self.limiter = limiter or make_limiter(redis_url, redis_prefix, redis_timeout_s)
        self.pipeline = Pipeline(self.clients, self.limiter, self.breaker)
        self.credits = CreditKeeper(
            db, ttl_s=credit_hold_ttl_s, redis_url=redis_url, redis_prefix=redis_prefix
        )
        self.billing = BillingJob(db, billing_interval_s)
        self.recorder = UsageRecorder(
            db.engine,
            outbox=outbox,
            on_done=lambda row, stored: self.credits.done(row.user_id, row.charged_credits, stored),
        )
        self.settler = Settler(self.limiter)
        self.clock = db.clock
        self.metrics = Metrics()
        self.responses = ResponseStore(db, 3600.0 if billing_interval_s > 0 else 0.0)
        self.draining = False  # SIGTERM came: /health/ready says 503 (cli/drain.py sets it)
        self.streams = Streams()  # streams in flight, ended at the drain deadline
        self.partitions = PartitionKeeper(db, partition_interval_s)  # PostgreSQL only

    async def start(self) -> None:
        await self.holder.start()
        await self.recorder.start()
        await self.credits.start()
        self.billing.start()
        self.responses.start()
        self.partitions.start()

    async def stop(self) -> None:
        """Stop everything, each part even if another failed; usage is flushed first."""
        try:
            await self.billing.stop()
            await self.responses.stop()
            await self.partitions.stop()
            await self.settler.close()
            await self.recorder.stop()
            await self.credits.stop()  # after the flush: charges are in the ledger
        finally:
            try:
                await self.tokens.close()
                await self.holder.stop()
            finally:
                try:
                    await self.deadlines.close()
                    await self.clients.close()
                finally:
                    await self.limiter.aclose()

    async def settled(self) -> None:
        """Wait until every finished call's limiter windows and slots are settled."""
        await self.settler.drain()

    def snapshot(self) -> Snapshot:
        return self.holder.get()


def make_gateway(db: Database, settings: Settings, tracing: Tracing | None = None) -> Gateway:
    return Gateway(
        db,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        redis_timeout_s=settings.redis_timeout_s,
        outbox=settings.usage_outbox,
        refresh_interval_s=settings.refresh_interval_s,
        billing_interval_s=settings.billing_interval_s,
        body_timeout_s=settings.body_timeout_s,
        tracing=tracing,
        log_ids=settings.log_format == "json",
        partition_interval_s=settings.partition_interval_s,
        credit_hold_ttl_s=settings.credit_hold_ttl_s,
    )
