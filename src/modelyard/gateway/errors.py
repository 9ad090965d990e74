"""Upstream failures, translated at each adapter's edge into these domain errors. The core
decides on retries and fallbacks from the class alone, never from a provider's name or an
error message.

    UpstreamError                 502 UPSTREAM_ERROR
    ├── RateLimited               429 RATE_LIMITED          retried (honours retry_after)
    ├── UpstreamTimeout           504 UPSTREAM_TIMEOUT      retried
    ├── UpstreamUnavailable       503 UPSTREAM_UNAVAILABLE  retried (5xx, connection errors)
    ├── UpstreamAuthFailed        502 UPSTREAM_AUTH_FAILED  not retried; next provider tried
    └── UpstreamBadRequest        400 UPSTREAM_BAD_REQUEST  not retried; no fallback
"""

from __future__ import annotations

from typing import Any

from modelyard.errors import ModelyardError


class UpstreamError(ModelyardError):
    status = 502
    code = "UPSTREAM_ERROR"
    retryable = False
    try_next_provider = True
    attempts = 1  # how many tries led to this error (set by the retry loop)

    def __init__(
        self,
        message: str,
        *,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.upstream_status = upstream_status
        self.retry_after = retry_after


class RateLimited(UpstreamError):
    status = 429
    code = "RATE_LIMITED"
    retryable = True


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "UPSTREAM_TIMEOUT"
    retryable = True


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "UPSTREAM_UNAVAILABLE"
    retryable = True


class UpstreamAuthFailed(UpstreamError):
    status = 502
    code = "UPSTREAM_AUTH_FAILED"


class UpstreamBadRequest(UpstreamError):
    status = 400
    code = "UPSTREAM_BAD_REQUEST"
    try_next_provider = False


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
