"""How often a person may press "test connection": each test is a real call to the
upstream, up to 15 s long, so one provider is tested once at a time and one person runs at
most :data:`PER_MINUTE` tests a minute. With Redis configured (several workers or replicas)
both are counted there, through the gateway's limiter, for the whole deployment; without
it, in this process (which is then the only one: several workers need Redis). Beyond that
the page says when to try again; nothing is sent upstream."""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from modelyard.errors import LimitExceeded, ProviderBusy, TooManyAttempts
from modelyard.gateway.limits import Limiter

PER_MINUTE = 10
WINDOW_S = 60.0
_running: set[uuid.UUID] = set()  # providers being tested now
_recent: dict[uuid.UUID, deque[float]] = {}  # a person's tests in the last minute


BUSY = "This provider is being tested now: wait for that answer."


def _too_many(wait: float) -> TooManyAttempts:
    return TooManyAttempts(
        f"You ran {PER_MINUTE} connection tests in the last minute: try again in "
        f"{max(1, round(wait))} s.",
        wait,
    )


@asynccontextmanager
async def admitted(
    user_id: uuid.UUID, provider_id: uuid.UUID, shared: Limiter | None = None
) -> AsyncIterator[None]:
    """Hold the provider's one test slot and count a test of ``user_id``; raises
    TooManyAttempts instead when either is taken up. The slot is freed on every exit.
    ``shared``: the limiter every worker and replica counts in (Redis)."""
    gate = _shared(shared, user_id, provider_id) if shared else _here(user_id, provider_id)
    async with gate:
        yield


@asynccontextmanager
async def _shared(
    limiter: Limiter, user_id: uuid.UUID, provider_id: uuid.UUID
) -> AsyncIterator[None]:
    try:
        slot = await limiter.acquire_slot(f"probe:{provider_id}", 1, 0.0)
    except ProviderBusy:
        raise TooManyAttempts(BUSY, 1.0) from None
    try:
        try:
            await limiter.hit(f"probe-user:{user_id}", rpm=PER_MINUTE, tpm=None, tokens=0)
        except LimitExceeded as exc:
            raise _too_many(exc.retry_after or WINDOW_S) from None
        yield
    finally:
        await slot.release()


@asynccontextmanager
async def _here(user_id: uuid.UUID, provider_id: uuid.UUID) -> AsyncIterator[None]:
    now = time.monotonic()
    recent = _recent.setdefault(user_id, deque())
    while recent and now - recent[0] >= WINDOW_S:
        recent.popleft()
    if len(recent) >= PER_MINUTE:
        raise _too_many(WINDOW_S - (now - recent[0]))
    if provider_id in _running:
        raise TooManyAttempts(BUSY, 1.0)
    recent.append(now)
    _running.add(provider_id)
    try:
        yield
    finally:
        _running.discard(provider_id)
        if not recent:
            _recent.pop(user_id, None)
