"""The server's billing clock: every ``interval_s`` it runs ``registry.periods.run_due`` so
renewals, rollovers and expiries happen on time with nobody running a command. Every replica
runs it; the registry's write lock lets one at a time in and a second run finds nothing due,
so each renewal happens once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from sqlalchemy.exc import SQLAlchemyError

from modelyard.billing import periods
from modelyard.registry.tx import Database

log = logging.getLogger("modelyard.billing")


class BillingJob:
    def __init__(self, db: Database, interval_s: float = 60.0) -> None:
        self.db = db
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    def start(self) -> None:
        if self.interval_s > 0:
            self._task = asyncio.create_task(self._loop(), name="modelyard-billing")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> periods.RenewalReport | None:
        try:
            report = await periods.run_due(self.db)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("billing run skipped: database unavailable (%s)", type(exc).__name__)
            return None
        self.runs += 1
        if report.changed:
            log.info(
                "billing: %d renewed, %d cancelled, %d expired, %s credits written off",
                len(report.renewed),
                len(report.cancelled),
                len(report.expired),
                report.written_off,
            )
        return report

    async def _loop(self) -> None:
        # Replicas started together spread their runs a little.
        await asyncio.sleep(random.uniform(0, min(5.0, self.interval_s)))  # noqa: S311
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval_s)
