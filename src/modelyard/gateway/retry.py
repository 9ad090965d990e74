"""Retries of one upstream call on the same provider, by the ``gateway.retry`` system setting.

Only errors whose class says ``retryable`` (429, 5xx, timeouts, connection errors: see
``modelyard/errors.py``) are retried; anything else propagates at once. Waits follow the
policy: an explicit ``schedule_ms`` exactly as written (seed 001's preset 30/60/90/120 s
needs ``max_attempts=5`` and a ``deadline_ms`` above 300 s), else exponential backoff
``base * 2^n`` capped at ``max``, with full jitter (uniform between 0 and that) when
``jitter`` is on. A ``Retry-After`` from the provider lengthens a wait, never shortens it.
No wait crosses the request's deadline: when the next one would, the last error is raised.
The raised error carries ``attempts``, the number of calls made.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from modelyard.errors import UpstreamError
from modelyard.registry.system_settings import RetryPolicy

T = TypeVar("T")
OnRetry = Callable[[int, UpstreamError, float], None]
MAX_DOUBLINGS = 30


def delays(policy: RetryPolicy, rng: random.Random | None = None) -> Iterator[float]:
    """Seconds to wait before attempts 2, 3, ... ``max_attempts`` (so one fewer than those).

    A schedule shorter than that repeats its last entry; an empty one means no waits."""
    count = policy.max_attempts - 1
    schedule = policy.schedule_ms
    if schedule is not None:
        for n in range(count):
            yield schedule[min(n, len(schedule) - 1)] / 1000 if schedule else 0.0
        return
    uniform = (rng or random).uniform
    base, cap = policy.base_delay_ms / 1000, policy.max_delay_ms / 1000
    for n in range(count):
        delay = min(cap, base * 2 ** min(n, MAX_DOUBLINGS))
        yield uniform(0.0, delay) if policy.jitter else delay


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    deadline: float,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    on_retry: OnRetry | None = None,
    clock: Callable[[], float] | None = None,
    rng: random.Random | None = None,
) -> tuple[T, int]:
    """``(result, attempts)`` of the first successful call.

    ``deadline`` is on ``clock`` (default: the running loop's ``time()``, as
    ``loop.time() + policy.deadline_ms / 1000``). ``on_retry(attempt, error, wait)`` is
    called before each wait, for metrics and logs."""
    waits: Iterator[float] | None = None  # made on the first failure: nothing on success
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call(), attempt
        except UpstreamError as exc:
            exc.attempts = attempt  # read by the pipeline
            if not exc.retryable:
                raise
            waits = waits or delays(policy, rng)
            wait = next(waits, None)
            if wait is None:
                raise
            if exc.retry_after is not None:
                wait = max(wait, exc.retry_after)
            if (clock or asyncio.get_running_loop().time)() + wait > deadline:
                raise
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            await sleep(wait)
