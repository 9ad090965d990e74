"""Limits kept in this process: right for one replica, and the fallback of the Redis backend.

Every operation is O(1): a dict look-up and a few integer updates. A waiting caller costs one
future in its key's queue; a slot is handed straight to the oldest waiter on release, so a
newcomer never overtakes the queue. State lives per key for the life of the process (keys are
providers, api keys and users: bounded by the registry). Claims (``claim``) last their TTL:
each claim first forgets, oldest first, those that have expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence

from modelyard.errors import ProviderBusy
from modelyard.gateway.limits.base import UNLIMITED, WINDOW_S, Scope, Slot, Window, exceeded


class _Queue:
    __slots__ = ("active", "limit", "waiters")

    def __init__(self, limit: int) -> None:
        self.active = 0
        self.limit = limit
        self.waiters: deque[asyncio.Future[None]] = deque()

    def admit(self) -> None:
        """Hand free slots to the oldest waiters still waiting."""
        while self.waiters and self.active < self.limit:
            waiter = self.waiters.popleft()
            if not waiter.done():
                self.active += 1
                waiter.set_result(None)


class _Counts:
    __slots__ = ("requests", "start", "tokens")

    def __init__(self, start: float) -> None:
        self.start = start
        self.requests = 0
        self.tokens = 0

    def roll(self, now: float) -> None:
        if now - self.start >= WINDOW_S:
            self.start = now
            self.requests = 0
            self.tokens = 0


class MemorySlot(Slot):
    __slots__ = ("_queue",)

    def __init__(self, queue: _Queue) -> None:
        super().__init__()
        self._queue = queue

    async def _release(self) -> None:
        self._queue.active -= 1
        self._queue.admit()


class MemoryLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._queues: dict[str, _Queue] = {}
        self._windows: dict[str, _Counts] = {}
        self._claims: dict[str, tuple[float, str]] = {}  # key -> (expiry, token)
        self._claim_order: deque[tuple[float, str]] = deque()  # (expiry, key), oldest first

    async def acquire_slot(self, key: str, limit: int, timeout_s: float) -> Slot:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue(limit)
        elif queue.limit != limit:
            queue.limit = limit
            queue.admit()
        if queue.active < limit and not queue.waiters:
            queue.active += 1
            return MemorySlot(queue)
        if timeout_s <= 0:
            raise ProviderBusy(key, limit, timeout_s)
        waiter = asyncio.get_running_loop().create_future()
        queue.waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                await waiter
        except TimeoutError:
            if not waiter.done() or waiter.cancelled():
                _forget(queue, waiter)
                raise ProviderBusy(key, limit, timeout_s) from None
            # granted as the time ran out: keep it
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                queue.active -= 1  # granted but cancelled: pass it on
                queue.admit()
            else:
                _forget(queue, waiter)
            raise
        return MemorySlot(queue)

    async def hit(self, key: str, *, rpm: int | None, tpm: int | None, tokens: int) -> Window:
        if rpm is None and tpm is None:
            return UNLIMITED
        counts, reset = self._check(key, rpm, tpm, tokens)
        return _count(counts, rpm, tpm, tokens, reset)

    async def hit_many(self, scopes: Sequence[Scope], tokens: int) -> list[Window]:
        """Every scope is checked before any is counted: a refusal counts nothing anywhere
        (no tpm charge is left behind in the scopes before the refused one)."""
        checked = [
            (self._check(key, rpm, tpm, tokens), rpm, tpm)
            for key, rpm, tpm in scopes
            if rpm is not None or tpm is not None
        ]
        return [_count(counts, rpm, tpm, tokens, reset) for (counts, reset), rpm, tpm in checked]

    def _check(
        self, key: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> tuple[_Counts, float]:
        """The key's current window and the seconds left of it; :class:`LimitExceeded`
        when one more request of ``tokens`` would go over."""
        now = self._clock()
        counts = self._windows.get(key)
        if counts is None:
            counts = self._windows[key] = _Counts(now)
        else:
            counts.roll(now)
        reset = counts.start + WINDOW_S - now
        if rpm is not None and counts.requests >= rpm:
            raise exceeded(key, "rpm", rpm, reset, tokens)
        if tpm is not None and counts.tokens + tokens > tpm:
            raise exceeded(key, "tpm", tpm, reset, tokens)
        return counts, reset

    def in_use(self) -> dict[str, int]:
        """Parallel slots held, by key (read-only: tests and diagnostics)."""
        return {key: queue.active for key, queue in self._queues.items() if queue.active}

    def tokens(self) -> dict[str, int]:
        """Tokens counted in each key's current window (read-only: tests and diagnostics)."""
        return {key: counts.tokens for key, counts in self._windows.items()}

    async def add_tokens(self, key: str, tokens: int, since: float | None = None) -> None:
        counts = self._windows.get(key)
        if counts is None:
            return
        counts.roll(self._clock())
        if tokens < 0 and since != counts.start:
            return  # a refund for a window that has ended
        counts.tokens = max(0, counts.tokens + tokens)

    async def claim(self, key: str, token: str, ttl_s: float) -> bool:
        now = self._clock()
        order, claims = self._claim_order, self._claims
        while order and order[0][0] <= now:  # forget what has expired, oldest first
            expiry, old = order.popleft()
            held = claims.get(old)
            if held is not None and held[0] <= now:
                del claims[old]
        held = claims.get(key)
        if held is not None and held[0] > now:
            return False
        expiry = now + ttl_s
        claims[key] = (expiry, token)
        order.append((expiry, key))  # a shorter TTL set later is forgotten a little late
        return True

    async def unclaim(self, key: str, token: str) -> None:
        held = self._claims.get(key)
        if held is not None and held[1] == token:
            del self._claims[key]

    async def aclose(self) -> None:
        return None


def _count(counts: _Counts, rpm: int | None, tpm: int | None, tokens: int, reset: float) -> Window:
    counts.requests += 1
    counts.tokens += tokens
    return Window.left(rpm, counts.requests, tpm, counts.tokens, reset, counts.start)


def _forget(queue: _Queue, waiter: asyncio.Future[None]) -> None:
    waiter.cancel()
    with contextlib.suppress(ValueError):
        queue.waiters.remove(waiter)
