"""A circuit breaker per provider: skip a provider that keeps failing, then probe it again.

    closed --failure_threshold consecutive failures--> open
    open --cooldown_s--> half-open: exactly one caller is let through as a probe
    half-open --probe succeeds--> closed      half-open --probe fails--> open (cooldown again)

Only upstream failures count, and not :class:`UpstreamBadRequest` (the caller's fault); any
success closes the circuit. A probe that never reports back (cancelled, or stopped by a local
limit before calling) is replaced by a new one after another ``cooldown_s``, so no error or
lost probe ever disables a provider for good; disabling is an admin's decision.

State is kept in this process: each replica forms its own view from its own calls, which is
what a breaker needs (a replica with a network problem to one provider skips it alone).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from modelyard.errors import UpstreamBadRequest, UpstreamError

State = Literal["closed", "open", "half_open"]


class _Circuit:
    __slots__ = ("failures", "opened_at", "probe_at")

    def __init__(self) -> None:
        self.failures = 0
        self.opened_at: float | None = None
        self.probe_at: float | None = None


def counts(error: BaseException) -> bool:
    """Whether an error is the provider's failure (and so counts towards opening)."""
    return isinstance(error, UpstreamError) and not isinstance(error, UpstreamBadRequest)


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or cooldown_s <= 0:
            raise ValueError("failure_threshold must be >= 1 and cooldown_s > 0")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def allow(self, key: str) -> bool:
        """May a call go to this provider now? In half-open, True once per probe."""
        circuit = self._circuits.get(key)
        if circuit is None or circuit.opened_at is None:
            return True
        now = self._clock()
        if now - circuit.opened_at < self.cooldown_s:
            return False
        if circuit.probe_at is not None and now - circuit.probe_at < self.cooldown_s:
            return False
        circuit.probe_at = now
        return True

    def success(self, key: str) -> None:
        self._circuits.pop(key, None)

    def failure(self, key: str, error: BaseException | None = None) -> None:
        """Record a failed call; with ``error`` given, only errors that :func:`counts`."""
        if error is not None and not counts(error):
            return
        circuit = self._circuits.get(key)
        if circuit is None:
            circuit = self._circuits[key] = _Circuit()
        if circuit.probe_at is not None:
            circuit.opened_at = self._clock()  # the probe failed: open again
            circuit.probe_at = None
            return
        circuit.failures += 1
        if circuit.opened_at is None and circuit.failures >= self.failure_threshold:
            circuit.opened_at = self._clock()

    def state(self, key: str) -> State:
        circuit = self._circuits.get(key)
        if circuit is None or circuit.opened_at is None:
            return "closed"
        if self._clock() - circuit.opened_at < self.cooldown_s:
            return "open"
        return "half_open"
