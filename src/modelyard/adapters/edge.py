"""What every HTTP adapter shares at its edge with the upstream: the common mapping of an
upstream HTTP status to a domain error, and ``Retry-After`` parsing."""

from __future__ import annotations

from modelyard.errors import (
    RateLimited,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)


def from_status(status: int, message: str, retry_after: float | None = None) -> UpstreamError:
    """The domain error for an upstream HTTP status (the common mapping adapters share)."""
    if status == 429:
        return RateLimited(message, upstream_status=status, retry_after=retry_after)
    if status in (401, 403):
        return UpstreamAuthFailed(message, upstream_status=status)
    if status in (408, 504):
        return UpstreamTimeout(message, upstream_status=status)
    if status >= 500:
        return UpstreamUnavailable(message, upstream_status=status, retry_after=retry_after)
    return UpstreamBadRequest(message, upstream_status=status)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; dates are ignored)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
