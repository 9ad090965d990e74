"""Rate limits (rpm, tpm) and per-provider parallelism: one interface (``base.Limiter``), two
backends: ``memory`` for one process, ``redis`` when replicas share them."""

from __future__ import annotations

from modelyard.gateway.limits.base import UNLIMITED, Limiter, Slot, Window
from modelyard.gateway.limits.memory import MemoryLimiter


def make_limiter(redis_url: str | None, prefix: str, timeout_s: float = 1.0) -> Limiter:
    """Redis-backed limits under ``prefix`` when a URL is given, else in-process ones;
    a Redis command or connection slower than ``timeout_s`` counts as Redis unreachable."""
    if redis_url:
        from modelyard.gateway.limits.redis import RedisLimiter  # noqa: PLC0415

        return RedisLimiter.from_url(redis_url, prefix, timeout_s=timeout_s)
    return MemoryLimiter()


__all__ = [
    "UNLIMITED",
    "Limiter",
    "MemoryLimiter",
    "Slot",
    "Window",
    "make_limiter",
]
