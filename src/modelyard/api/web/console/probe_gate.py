"""How often a person may press "test connection": each test is a real call to the
upstream, up to 15 s long, so one provider is tested once at a time and one person runs at
most :data:`PER_MINUTE` tests a minute (per server process). Beyond that the page says when
to try again; nothing is sent upstream."""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from modelyard.errors import TooManyAttempts

PER_MINUTE = 10
WINDOW_S = 60.0
_running: set[uuid.UUID] = set()  # providers being tested now
_recent: dict[uuid.UUID, deque[float]] = {}  # a person's tests in the last minute


@asynccontextmanager
async def admitted(user_id: uuid.UUID, provider_id: uuid.UUID) -> AsyncIterator[None]:
    """Hold the provider's one test slot and count a test of ``user_id``; raises
    TooManyAttempts instead when either is taken up. The slot is freed on every exit."""
    now = time.monotonic()
    recent = _recent.setdefault(user_id, deque())
    while recent and now - recent[0] >= WINDOW_S:
        recent.popleft()
    if len(recent) >= PER_MINUTE:
        wait = WINDOW_S - (now - recent[0])
        raise TooManyAttempts(
            f"You ran {PER_MINUTE} connection tests in the last minute: try again in "
            f"{max(1, round(wait))} s.",
            wait,
        )
    if provider_id in _running:
        raise TooManyAttempts("This provider is being tested now: wait for that answer.", 1.0)
    recent.append(now)
    _running.add(provider_id)
    try:
        yield
    finally:
        _running.discard(provider_id)
        if not recent:
            _recent.pop(user_id, None)
