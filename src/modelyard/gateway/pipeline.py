"""A call's attempts: each candidate in turn -> provider limits -> adapter (with retries) ->
the next candidate on failure. Nothing here touches the database; what happened (which
candidate served, attempts, fallbacks, the windows passed) is written onto the
:class:`~modelyard.gateway.call.Call`.

A candidate whose circuit is open is skipped; a retryable failure is retried on the same
provider within the request's deadline; a failure that is not the caller's fault moves on to
the next candidate; a bad request stops at once. A stream is only retried or moved before
its first chunk reaches the client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp

from modelyard.adapters import vectors
from modelyard.adapters.base import ChatResult, EmbeddingResult, StreamChunk, Target
from modelyard.errors import (
    LimitExceeded,
    ModelyardError,
    ProviderBusy,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamUnavailable,
)
from modelyard.gateway.breaker import CircuitBreaker
from modelyard.gateway.clients import Clients
from modelyard.gateway.limits.base import PARALLEL_WAIT_S, Limiter
from modelyard.gateway.resolve import Candidate
from modelyard.gateway.retry import with_retries
from modelyard.gateway.scopes import provider_scope
from modelyard.kinds.base import adapter_for
from modelyard.registry.system_settings import RetryPolicy

if TYPE_CHECKING:
    from modelyard.gateway.call import Call

T = TypeVar("T")
# How one candidate's stream is opened: (candidate, target, upstream body) -> chunks.
Opener = Callable[[Candidate, Target, dict[str, Any]], AsyncIterator[StreamChunk]]


class Pipeline:
    def __init__(self, clients: Clients, limiter: Limiter, breaker: CircuitBreaker) -> None:
        self.clients = clients
        self.limiter = limiter
        self.breaker = breaker

    async def chat(self, call: Call) -> ChatResult:
        async def attempt(c: Candidate, target: Target, upstream: dict[str, Any]) -> ChatResult:
            return await adapter_for(c.provider.kind).chat(
                self.clients.get(c.provider), target, upstream
            )

        return await self.run(call, attempt)

    async def embed(self, call: Call) -> EmbeddingResult:
        async def attempt(
            c: Candidate, target: Target, upstream: dict[str, Any]
        ) -> EmbeddingResult:
            result = await adapter_for(c.provider.kind).embed(
                self.clients.get(c.provider), target, upstream
            )  # in the encoding asked, whatever the upstream sent
            return vectors.in_encoding(result, upstream.get("encoding_format"))

        return await self.run(call, attempt)

    def http(self, candidate: Candidate) -> aiohttp.ClientSession:
        """The HTTP session for ``candidate``'s provider."""
        return self.clients.get(candidate.provider)

    async def stream(
        self, call: Call, opener: Opener | None = None
    ) -> tuple[StreamChunk, AsyncIterator[StreamChunk]]:
        """The first chunk (retries and fallbacks happen until it arrives) and the rest.
        ``opener``: how a candidate's stream is opened (its adapter's chat stream unless
        said otherwise: an ingress with a wire format of its own, say)."""

        async def attempt(
            c: Candidate, target: Target, upstream: dict[str, Any]
        ) -> tuple[StreamChunk, AsyncIterator[StreamChunk]]:
            if opener is None:
                opened = adapter_for(c.provider.kind).stream(self.http(c), target, upstream)
            else:
                opened = opener(c, target, upstream)
            chunks = opened.__aiter__()
            try:
                first = await chunks.__anext__()
            except StopAsyncIteration:
                raise UpstreamError("the provider closed the stream before any data") from None
            return first, chunks

        return await self.run(call, attempt)

    async def run(
        self, call: Call, attempt: Callable[[Candidate, Target, dict[str, Any]], Awaitable[T]]
    ) -> T:
        """Each candidate in turn until one answers; the call keeps what happened.
        ``attempt`` gets the candidate, its target and the body for it (the caller's with
        the upstream's model id), and is retried and limited as the policy says."""
        snap, tokens, body = call.snap, call.budget, call.body
        policy = snap.retry
        deadline = asyncio.get_running_loop().time() + policy.deadline_ms / 1000
        last: ModelyardError | None = None
        for index, candidate in enumerate(call.resolution.candidates):
            provider = candidate.provider
            key = str(provider.id)
            if not self.breaker.allow(key):
                call.failures.append(f"{provider.name}: circuit open")
                continue
            if index:
                call.fallbacks += 1
            call.candidate = candidate
            target = snap.target(provider, candidate.model.model_id)
            upstream = {**body, "model": candidate.model.model_id}
            try:
                if provider.rpm_limit or provider.tpm_limit:  # no round trip when unlimited
                    scope = f"provider:{key}"
                    window = await self.limiter.hit(
                        scope, rpm=provider.rpm_limit, tpm=provider.tpm_limit, tokens=tokens
                    )
                    call.narrow(scope, tokens, window, provider.id)
                started = time.perf_counter()
                try:
                    result, attempts = await self._limited(
                        candidate,
                        partial(_asked, call, attempt, candidate, target, upstream, index > 0),
                        policy,
                        deadline,
                    )
                finally:
                    call.upstream_ms += (time.perf_counter() - started) * 1000
                call.attempts += attempts
                self.breaker.success(key)
                return result
            except (LimitExceeded, ProviderBusy) as exc:  # this provider is full: try the next
                call.failures.append(f"{provider.name}: {exc.code}")
                last = exc.named(provider_scope(provider))
            except UpstreamError as exc:
                call.attempts += exc.attempts
                call.failures.append(f"{provider.name}: {exc.code}")
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


async def _asked(
    call: Call,
    attempt: Callable[[Candidate, Target, dict[str, Any]], Awaitable[T]],
    candidate: Candidate,
    target: Target,
    upstream: dict[str, Any],
    fallback: bool,
) -> T:
    """One attempt (in a span of its own when the call is traced). While it runs the upstream
    has the prompt: a call cancelled now pays its estimate; one the upstream answered with an
    error does not."""
    call.asked = True
    try:
        if call.trace is not None:
            return await call.trace.attempt(attempt, candidate, target, upstream, fallback)
        return await attempt(candidate, target, upstream)
    except Exception:
        call.asked = False
        raise
