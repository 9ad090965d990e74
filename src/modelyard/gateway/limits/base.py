"""The limits interface: parallelism slots and rpm/tpm windows per key, and their errors.

Keys name a scope and an id, ``"provider:<id>"``, ``"key:<id>"``, ``"user:<id>"``; the part
before the first colon is the scope reported in errors. Both backends (``memory``, ``redis``)
keep the same semantics:

- ``acquire_slot``: at most ``limit`` holders per key at once; excess callers wait in a
  first-come first-served queue for up to ``timeout_s``, then get :class:`ProviderBusy`.
- ``hit``: one request against fixed 60-second windows. A key's window starts at its first
  request and holds both counters (requests, tokens); when it has run 60 s the next request
  starts a new one. A burst of up to twice a limit can straddle two windows; in exchange a
  hit is O(1) with no log of timestamps. Over a limit raises :class:`LimitExceeded` and
  counts nothing. Limits are ``None`` (none) or at least 1.
- ``add_tokens``: settle a call's tokens once they are known. A hit charges an estimate of
  what a call will use (its prompt plus ``max_tokens``, else the
  ``gateway.completion_estimate_tokens`` setting); afterwards the difference to what it
  actually used is added (it may overshoot ``tpm``; the next ``hit`` then waits for the
  window to end) or refunded. A refund only counts in the window that was charged
  (``since``: the window's start from the hit), never below zero.

Both errors live in :mod:`modelyard.errors` (429 ``PROVIDER_BUSY``, 429 ``LIMIT_EXCEEDED``
with ``retry_after`` set); both differ from the upstream ``RATE_LIMITED``: the provider was
not called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from modelyard.errors import LimitExceeded, LimitName

WINDOW_S = 60.0
PARALLEL_WAIT_S = 30.0  # how long a call waits for a parallel slot (a plan's, a provider's)
Scope = tuple[str, int | None, int | None]  # key, rpm, tpm


def exceeded(key: str, limit: LimitName, value: int, reset_s: float, tokens: int) -> LimitExceeded:
    """The error for a refused ``hit``; a request larger than the whole tpm never fits."""
    if limit == "tpm" and tokens > value:
        return LimitExceeded(
            key,
            limit,
            value,
            None,
            f"the request needs about {tokens} tokens, more than {key}'s whole limit of "
            f"{value} tokens per minute; send a shorter request or raise the limit",
        )
    unit = "requests" if limit == "rpm" else "tokens"
    return LimitExceeded(
        key,
        limit,
        value,
        reset_s,
        f"{key} is over its limit of {value} {unit} per minute; retry in {reset_s:.1f} s",
    )


@dataclass(slots=True)
class Window:
    """What is left of a key's current window after a ``hit`` (``None``: no such limit)."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_s: float = 0.0
    start: float | None = None  # identifies the window charged, for a later refund

    @classmethod
    def left(
        cls,
        rpm: int | None,
        requests: int,
        tpm: int | None,
        tokens: int,
        reset_s: float,
        start: float | None = None,
    ) -> Window:
        """The window after ``requests`` requests and ``tokens`` tokens were counted."""
        return cls(
            rpm,
            None if rpm is None else rpm - requests,
            tpm,
            None if tpm is None else tpm - tokens,
            reset_s,
            start,
        )

    def headers(self) -> dict[str, str]:
        """The ``x-ratelimit-*`` response headers, in OpenAI's format."""
        return {k.decode(): v.decode() for k, v in self.header_pairs()}

    def header_pairs(self) -> list[tuple[bytes, bytes]]:
        """:meth:`headers` as the raw ASGI header pairs."""
        out: list[tuple[bytes, bytes]] = []
        reset = _duration(self.reset_s).encode()
        if self.limit_requests is not None:
            out += (
                (b"x-ratelimit-limit-requests", b"%d" % self.limit_requests),
                (b"x-ratelimit-remaining-requests", b"%d" % max(0, self.remaining_requests or 0)),
                (b"x-ratelimit-reset-requests", reset),
            )
        if self.limit_tokens is not None:
            out += (
                (b"x-ratelimit-limit-tokens", b"%d" % self.limit_tokens),
                (b"x-ratelimit-remaining-tokens", b"%d" % max(0, self.remaining_tokens or 0)),
                (b"x-ratelimit-reset-tokens", reset),
            )
        return out

    def tightest(self, other: Window) -> Window:
        """Combine two scopes' windows (say provider and api key): the smaller remainder wins."""
        requests = _tighter(
            (self.limit_requests, self.remaining_requests),
            (other.limit_requests, other.remaining_requests),
        )
        tokens = _tighter(
            (self.limit_tokens, self.remaining_tokens),
            (other.limit_tokens, other.remaining_tokens),
        )
        return Window(*requests, *tokens, max(self.reset_s, other.reset_s))


@dataclass(slots=True, frozen=True)
class Charge:
    """Tokens a ``hit`` charged to a tpm window, settled when the call's usage is known;
    ``provider_id`` is set for a provider's window (only the provider that served the call
    used any tokens)."""

    key: str
    tokens: int
    since: float | None
    provider_id: object = None


UNLIMITED = Window()


def _tighter(
    a: tuple[int | None, int | None], b: tuple[int | None, int | None]
) -> tuple[int | None, int | None]:
    if a[0] is None:
        return b
    if b[0] is None:
        return a
    return a if (a[1] or 0) <= (b[1] or 0) else b


def _duration(seconds: float) -> str:
    """OpenAI's reset format: ``250ms``, ``12.5s``, ``1m0s``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(round(seconds, 3), 60)
    return f"{int(minutes)}m{rest:g}s" if minutes else f"{rest:g}s"


class Slot:
    """One held parallel slot. Use ``async with`` or call ``release()``; a second release does
    nothing."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = True

    @property
    def held(self) -> bool:
        return self._held

    async def release(self) -> None:
        if self._held:
            self._held = False
            await self._release()

    async def _release(self) -> None:
        """Give the slot back (backends override this)."""

    async def __aenter__(self) -> Slot:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.release()


class Limiter(Protocol):
    async def acquire_slot(self, key: str, limit: int, timeout_s: float) -> Slot:
        """A slot among ``limit`` per key, waiting in FIFO order; :class:`ProviderBusy` when
        none frees up within ``timeout_s``."""
        ...

    async def hit(self, key: str, *, rpm: int | None, tpm: int | None, tokens: int) -> Window:
        """Count one request of ``tokens`` tokens; :class:`LimitExceeded` when over."""
        ...

    async def hit_many(self, scopes: Sequence[Scope], tokens: int) -> list[Window]:
        """``hit`` for each (key, rpm, tpm) that has a limit, in one round trip where the
        backend can; one window per such scope; the first refusal raises."""
        ...

    async def add_tokens(self, key: str, tokens: int, since: float | None = None) -> None:
        """Charge (or, negative, refund) tokens learnt after the call; a refund only
        counts while the window that started at ``since`` is current."""
        ...

    async def aclose(self) -> None:
        """Release connections (Redis); nothing for the memory backend."""
        ...
