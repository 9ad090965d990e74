"""Settling what a finished call holds in the limiters, off the request path.

A call's tpm windows were charged at its token budget before it ran; once its usage is known
:meth:`Settler.correct` queues the difference, and one task applies everything queued (a
limiter hiccup is logged, never raised: the window simply ends). A call's parallel slot is
given back by :meth:`Settler.release` in a task of its own, as a Redis slot needs a round
trip. :meth:`Settler.drain` waits for all of it (the gateway's stop calls it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from modelyard.gateway.limits.base import Charge, Limiter, Slot

log = logging.getLogger("modelyard.gateway")


class Settler:
    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter
        self._tasks: set[asyncio.Task[None]] = set()
        self._adjustments: list[tuple[Charge, int]] = []
        self._adjuster: asyncio.Task[None] | None = None

    def correct(self, charges: list[Charge], used: int, served: object) -> None:
        """Charge the provider that served (and the caller's own windows) what the call
        used instead of its budget; refund the providers it did not reach."""
        for c in charges:
            delta = (used if c.provider_id is None or c.provider_id == served else 0) - c.tokens
            if delta:
                self._adjustments.append((c, delta))
        if self._adjustments and self._adjuster is None:
            self._adjuster = self._later(self._adjust())

    def release(self, slot: Slot) -> None:
        self._later(slot.release())

    async def drain(self) -> None:
        """Wait until everything queued so far is settled."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _later(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

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
