"""Settling what a finished call holds in the limiters, off the request path.

A call's tpm windows were charged at its token budget before it ran; once its usage is known
:meth:`Settler.correct` queues the difference, and one task applies everything queued (a
limiter hiccup is logged, never raised: the window simply ends). A call's parallel slot is
given back by :meth:`Settler.release`, through the same worker, as a Redis slot needs a
round trip. :meth:`Settler.drain` waits for all of it (the gateway's stop calls it).
"""

from __future__ import annotations

import asyncio
import logging

from modelyard.gateway.limits.base import Charge, Limiter, Slot

log = logging.getLogger("modelyard.gateway")


class Settler:
    """One worker task for every call's settling: a finished call only queues its work and
    wakes the worker, so no task is made per call."""

    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter
        self._queue: list[tuple[Charge, int] | Slot] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: asyncio.Task[None] | None = None

    def correct(self, charges: list[Charge], used: int, served: object) -> None:
        """Charge the provider that served (and the caller's own windows) what the call
        used instead of its budget; refund the providers it did not reach."""
        queued = False
        for c in charges:
            delta = (used if c.provider_id is None or c.provider_id == served else 0) - c.tokens
            if delta:
                self._queue.append((c, delta))
                queued = True
        if queued:
            self._start()

    def release(self, slot: Slot) -> None:
        self._queue.append(slot)
        self._start()

    async def drain(self) -> None:
        """Wait until everything queued so far is settled."""
        while self._queue or not self._idle.is_set():
            await self._idle.wait()

    async def close(self) -> None:
        """Settle what is queued, then stop the worker."""
        await self.drain()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    def _start(self) -> None:
        self._idle.clear()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="modelyard-limits-settler")
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue, []
                for job in batch:
                    await self._settle(job)
            self._idle.set()

    async def _settle(self, job: tuple[Charge, int] | Slot) -> None:
        try:
            if isinstance(job, tuple):
                charge, delta = job
                await self.limiter.add_tokens(charge.key, delta, charge.since)
            else:
                await job.release()
        except Exception:  # a limiter hiccup must not surface; the window ends
            log.warning("could not settle a finished call's limits", exc_info=True)
