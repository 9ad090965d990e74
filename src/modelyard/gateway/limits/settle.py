"""Settling what a finished call holds in the limiters, off the request path.

A call's tpm windows were charged at its token estimate before it ran; once its usage is known
:meth:`Settler.correct` queues the difference, and one task applies everything queued (a
limiter hiccup is logged, never raised: the window simply ends). A call's parallel slot is
given back by :meth:`Settler.release` in a task of its own (a Redis slot needs a round
trip), and so is an Idempotency-Key a call that got no answer gives back
(:meth:`Settler.unclaim`). :meth:`Settler.drain` waits for all of it (the gateway's stop
calls it).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from typing import Any

from modelyard.gateway.limits.base import Charge, Limiter, Slot

log = logging.getLogger("modelyard.gateway")


class Settler:
    """One worker task for every call's tpm corrections, so a finished call only queues its
    work and wakes the worker; no task is made per call. Each slot release runs in a task of
    its own, so a slow release (a Redis failover) never holds up another."""

    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter
        self._queue: list[tuple[Charge, int]] = []
        self._releases: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
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
        self._later(self._release(slot))

    def unclaim(self, key: str, token: str) -> None:
        """Give back a key claimed with ``token`` (:meth:`Limiter.claim`)."""
        self._later(self._unclaim(key, token))

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def drain(self) -> None:
        """Wait until everything queued so far is settled."""
        while self._releases or (self._worker is not None and not self._idle.is_set()):
            if self._releases:
                await asyncio.gather(*self._releases, return_exceptions=True)
            else:
                await self._idle.wait()

    async def close(self) -> None:
        """Settle what is queued, then stop the worker."""
        await self.drain()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # events and the worker belong to one loop
            self._loop, self._worker = loop, None
            self._wake, self._idle = asyncio.Event(), asyncio.Event()
        self._idle.clear()
        if self._worker is None or self._worker.done():
            # a context of its own: it outlives the call that starts it (no request id in its logs)
            self._worker = asyncio.create_task(
                self._run(), name="modelyard-limits-settler", context=contextvars.Context()
            )
        self._wake.set()

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    batch, self._queue = self._queue, []
                    for index, job in enumerate(batch):
                        try:
                            await self._correct(*job)
                        except BaseException:  # cancelled mid-batch: keep what is not done
                            self._queue[:0] = batch[index:]
                            raise
                self._idle.set()
        finally:
            self._idle.set()

    async def _correct(self, charge: Charge, delta: int) -> None:
        try:
            await self.limiter.add_tokens(charge.key, delta, charge.since)
        except Exception:  # a limiter hiccup must not surface; the window ends
            log.warning("could not settle tokens on %s", charge.key, exc_info=True)

    async def _unclaim(self, key: str, token: str) -> None:
        try:
            await self.limiter.unclaim(key, token)
        except Exception:  # the claim expires by itself
            log.warning("could not give back the claim on %s", key, exc_info=True)

    async def _release(self, slot: Slot) -> None:
        try:
            await slot.release()
        except Exception:  # the slot's lease ends by itself
            log.warning("could not release a parallel slot", exc_info=True)
