"""One call through the gateway: resolve -> limit -> adapter (with retries) -> fallback ->
usage. Nothing here touches the database: the snapshot answers every question and usage rows
are handed to the batching recorder.

A candidate whose circuit is open is skipped; a retryable failure is retried on the same
provider within the request's deadline; a failure that is not the caller's fault moves on to
the next candidate; a bad request stops at once. A stream is only retried or moved before
its first chunk reaches the client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from modelyard.adapters.base import ChatResult, EmbeddingResult, StreamChunk, Target
from modelyard.errors import ModelyardError
from modelyard.gateway.breaker import CircuitBreaker
from modelyard.gateway.clients import Clients
from modelyard.gateway.errors import UpstreamBadRequest, UpstreamError, UpstreamUnavailable
from modelyard.gateway.limits.base import Charge, Limiter, LimitExceeded, ProviderBusy, Window
from modelyard.gateway.resolve import Candidate, Resolution
from modelyard.gateway.retry import with_retries
from modelyard.gateway.snapshot import Snapshot
from modelyard.kinds.base import adapter_for
from modelyard.registry.system_settings import RetryPolicy

T = TypeVar("T")
PARALLEL_WAIT_S = 30.0


@dataclass
class Attempted:
    """What happened to one call: which candidate served it, after how many attempts."""

    candidate: Candidate | None = None
    attempts: int = 0
    fallbacks: int = 0
    upstream_ms: float = 0.0
    window: Window | None = None
    failures: list[str] = field(default_factory=list)
    charges: list[Charge] = field(default_factory=list)

    def narrow(self, key: str, tokens: int, window: Window, provider_id: object = None) -> None:
        """Keep the tightest of the windows this call passed (for x-ratelimit-* headers) and
        what tpm windows were charged (settled once the call's usage is known)."""
        self.window = window if self.window is None else self.window.tightest(window)
        if window.limit_tokens is not None and tokens:
            self.charges.append(Charge(key, tokens, window.start, provider_id))


class Pipeline:
    def __init__(self, clients: Clients, limiter: Limiter, breaker: CircuitBreaker) -> None:
        self.clients = clients
        self.limiter = limiter
        self.breaker = breaker

    async def chat(
        self,
        snap: Snapshot,
        resolution: Resolution,
        body: dict[str, Any],
        tokens: int,
        attempted: Attempted,
    ) -> ChatResult:
        async def call(c: Candidate, target: Target, upstream: dict[str, Any]) -> ChatResult:
            return await adapter_for(c.provider.kind).chat(
                self.clients.get(c.provider), target, upstream
            )

        return await self._first_success(snap, resolution, body, tokens, attempted, call)

    async def embed(
        self,
        snap: Snapshot,
        resolution: Resolution,
        body: dict[str, Any],
        tokens: int,
        attempted: Attempted,
    ) -> EmbeddingResult:
        async def call(c: Candidate, target: Target, upstream: dict[str, Any]) -> EmbeddingResult:
            return await adapter_for(c.provider.kind).embed(
                self.clients.get(c.provider), target, upstream
            )

        return await self._first_success(snap, resolution, body, tokens, attempted, call)

    async def stream(
        self,
        snap: Snapshot,
        resolution: Resolution,
        body: dict[str, Any],
        tokens: int,
        attempted: Attempted,
    ) -> tuple[StreamChunk, AsyncIterator[StreamChunk]]:
        """The first chunk (retries and fallbacks happen until it arrives) and the rest."""

        async def call(
            c: Candidate, target: Target, upstream: dict[str, Any]
        ) -> tuple[StreamChunk, AsyncIterator[StreamChunk]]:
            chunks = (
                adapter_for(c.provider.kind)
                .stream(self.clients.get(c.provider), target, upstream)
                .__aiter__()
            )
            try:
                first = await chunks.__anext__()
            except StopAsyncIteration:
                raise UpstreamError("the provider closed the stream before any data") from None
            return first, chunks

        return await self._first_success(snap, resolution, body, tokens, attempted, call)

    async def _first_success(
        self,
        snap: Snapshot,
        resolution: Resolution,
        body: dict[str, Any],
        tokens: int,
        attempted: Attempted,
        call: Callable[[Candidate, Target, dict[str, Any]], Awaitable[T]],
    ) -> T:
        policy = snap.retry
        deadline = asyncio.get_running_loop().time() + policy.deadline_ms / 1000
        last: ModelyardError | None = None
        for index, candidate in enumerate(resolution.candidates):
            provider = candidate.provider
            key = str(provider.id)
            if not self.breaker.allow(key):
                attempted.failures.append(f"{provider.name}: circuit open")
                continue
            if index:
                attempted.fallbacks += 1
            attempted.candidate = candidate
            target = snap.target(provider, candidate.model.model_id)
            upstream = {**body, "model": candidate.model.model_id}
            try:
                if provider.rpm_limit or provider.tpm_limit:  # no round trip when unlimited
                    scope = f"provider:{key}"
                    window = await self.limiter.hit(
                        scope, rpm=provider.rpm_limit, tpm=provider.tpm_limit, tokens=tokens
                    )
                    attempted.narrow(scope, tokens, window, provider.id)
                started = time.perf_counter()
                try:
                    result, attempts = await self._limited(
                        candidate, partial(call, candidate, target, upstream), policy, deadline
                    )
                finally:
                    attempted.upstream_ms += (time.perf_counter() - started) * 1000
                attempted.attempts += attempts
                self.breaker.success(key)
                return result
            except (LimitExceeded, ProviderBusy) as exc:  # this provider is full: try the next
                attempted.failures.append(f"{provider.name}: {exc.code}")
                last = exc
            except UpstreamError as exc:
                attempted.attempts += exc.attempts
                attempted.failures.append(f"{provider.name}: {exc.code}")
                if not isinstance(exc, UpstreamBadRequest):
                    self.breaker.failure(key, exc)
                if not exc.try_next_provider:
                    raise
                last = exc
        if last is None:
            raise UpstreamUnavailable(
                "every provider for this model is cooling down after failures"
            )
        raise last

    async def _limited(
        self,
        candidate: Candidate,
        attempt: Callable[[], Awaitable[T]],
        policy: RetryPolicy,
        deadline: float,
    ) -> tuple[T, int]:
        limit = candidate.provider.max_parallel
        if limit is None:
            return await with_retries(attempt, policy, deadline=deadline)
        slot = await self.limiter.acquire_slot(
            f"parallel:{candidate.provider.id}", limit, PARALLEL_WAIT_S
        )
        async with slot:
            return await with_retries(attempt, policy, deadline=deadline)
