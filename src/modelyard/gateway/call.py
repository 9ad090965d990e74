"""One call through the gateway, on one straight line: admit -> attempt(s) -> settle.

A :class:`Call` is made from a caller's request (:mod:`modelyard.gateway.intake`):
what the request needs of a model, the candidates that may serve it (narrowed by the caller's
plan), the most tokens it may use. Then each step runs once, its state kept on the call:

* **admit**: the caller's own limits (per API key, per user, per plan: one round trip), the
  plan's parallel slot, and, for a caller who pays in credits, the credit hold for the most
  the call may cost (its ``max_tokens`` capped when the balance cannot cover it:
  :mod:`modelyard.gateway.credit`);
* **attempt**: the pipeline (circuit breaker, provider limits, retries, fallback, adapter)
  writes onto the call which candidate served it, after how many attempts;
* **settle**: tokens (the tpm windows charged at the budget corrected to what was used), the
  cost at the price in force when the call started, the credits charged from the hold, the
  slot released, metrics, and the usage row handed to the recorder
  (:mod:`modelyard.gateway.settlement`).

``settle`` runs exactly once whatever happens: a failure while admitting or attempting
settles with status ``error``, a cancellation (the caller left, the server stops) with
``aborted``; a stream (:mod:`modelyard.gateway.streaming`) settles when it ends, fails or is
abandoned. Nothing here touches the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from modelyard.adapters.base import ChatResult, EmbeddingResult, Target, Usage
from modelyard.billing.hold_account import Reservation
from modelyard.errors import LimitExceeded, ProviderBusy
from modelyard.faults import as_error
from modelyard.gateway import credit, idempotency, settlement
from modelyard.gateway.limits.base import PARALLEL_WAIT_S, Charge, Slot, Window
from modelyard.gateway.resolve import Candidate, Resolution
from modelyard.gateway.scopes import caller_scope
from modelyard.gateway.snapshot import Billing, KeyEntry, Snapshot
from modelyard.gateway.streaming import Stream
from modelyard.gateway.tracing import CallTrace

if TYPE_CHECKING:
    from modelyard.gateway.pipeline import Opener
    from modelyard.gateway.service import Gateway

T = TypeVar("T")
# One try of one candidate: (candidate, target, upstream body) -> the answer.
Attempt = Callable[[Candidate, Target, dict[str, Any]], Awaitable[T]]


class Call:
    """One call's whole state, from the request line to its usage row."""

    __slots__ = (
        "asked",
        "at",
        "attempts",
        "billed",
        "body",
        "budget",
        "candidate",
        "capped",
        "charges",
        "claimed",
        "client_request_id",
        "failures",
        "fallbacks",
        "gateway",
        "idempotency_key",
        "key",
        "meta",
        "operation",
        "plan",
        "prompt",
        "request_id",
        "reservation",
        "resolution",
        "settled",
        "slot",
        "snap",
        "started",
        "trace",
        "ttft_ms",
        "upstream_ms",
        "window",
        "worst",
    )

    def __init__(
        self,
        gateway: Gateway,
        snap: Snapshot,
        key: KeyEntry,
        request_id: str,
        operation: str,
        body: dict[str, Any],
        resolution: Resolution,
        plan: Billing | None,
        prompt: int,
        budget: int,
    ) -> None:
        self.gateway, self.snap, self.key = gateway, snap, key
        self.request_id, self.operation, self.body = request_id, operation, body
        self.resolution, self.plan = resolution, plan
        self.prompt = prompt  # estimated prompt tokens
        self.budget = budget  # tokens charged to rate windows up front (settle corrects them)
        self.billed = False  # paid in credits (credit.prepare)
        self.worst = budget  # the most tokens it may use, for the credit hold
        self.capped: int | None = None  # max_tokens lowered to what the balance pays for
        self.started = time.perf_counter()
        self.at = gateway.clock()  # the price in force at this instant is the call's price
        # What the attempts made of it (written by the pipeline):
        self.candidate: Candidate | None = None
        self.asked = False  # an upstream was sent the request
        self.attempts = 0
        self.fallbacks = 0
        self.upstream_ms = 0.0
        self.window: Window | None = None  # the tightest rate window passed (x-ratelimit-*)
        self.failures: list[str] = []
        self.charges: list[Charge] = []  # tpm windows charged at the budget
        # What admission acquired, released by settle:
        self.reservation: Reservation | None = None
        self.slot: Slot | None = None
        self.ttft_ms: int | None = None
        self.settled = False
        # What the caller said about the call (set by chat_call / embedding_call):
        self.client_request_id: str | None = None  # correlation only, never the row's key
        self.idempotency_key: str | None = None
        self.claimed: str | None = None  # the Idempotency-Key claim, given back if unanswered
        self.meta: dict[str, Any] | None = None  # for the usage row (the ingress: {"api": ...})
        # Its spans, when traces are on and the request is sampled (gateway/tracing.py):
        tracing = gateway.tracing
        self.trace = None if tracing is None else CallTrace.begin(self, tracing)

    @property
    def warning(self) -> str | None:
        return self.resolution.warning

    def narrow(self, key: str, tokens: int, window: Window, provider_id: object = None) -> None:
        """Keep the tightest window this call passed and the tpm windows it charged."""
        self.window = window if self.window is None else self.window.tightest(window)
        if window.limit_tokens is not None and tokens:
            self.charges.append(Charge(key, tokens, window.start, provider_id))

    # -- admit ------------------------------------------------------------------------------

    async def admit(self) -> None:
        """The caller's Idempotency-Key and own limits, the plan's parallelism, then the
        credits the call may cost. Whatever is acquired here is released by :meth:`settle`."""
        key, plan, gateway = self.key, self.plan, self.gateway
        if self.idempotency_key is not None:  # before the limits: a refused repeat uses none
            self.claimed = await idempotency.claim(
                gateway.limiter, self.snap, key.user_id, self.idempotency_key, self.request_id
            )
        await self._caller_limits()
        if plan is not None and plan.max_parallel:
            try:
                self.slot = await gateway.limiter.acquire_slot(
                    f"plan-parallel:{key.user_id}", plan.max_parallel, PARALLEL_WAIT_S
                )
            except ProviderBusy as exc:
                raise exc.named(caller_scope(exc.key, key, plan)) from None
        if self.billed:
            await credit.hold(self)

    async def _caller_limits(self) -> None:
        """rpm/tpm per API key, per user and per plan, in one round trip (Redis); a refusal
        names the scope as the caller knows it."""
        key, plan = self.key, self.plan
        scopes: list[tuple[str, int | None, int | None]] = []
        if key.key_id is not None and (key.rpm_limit or key.tpm_limit):
            scopes.append((f"key:{key.key_id}", key.rpm_limit, key.tpm_limit))
        if key.user_rpm_limit or key.user_tpm_limit:
            scopes.append((f"user:{key.user_id}", key.user_rpm_limit, key.user_tpm_limit))
        if plan is not None and (plan.rpm_limit or plan.tpm_limit):
            scopes.append((f"plan:{key.user_id}", plan.rpm_limit, plan.tpm_limit))
        if not scopes:
            return
        try:
            windows = await self.gateway.limiter.hit_many(scopes, self.budget)
        except LimitExceeded as exc:
            raise exc.named(caller_scope(exc.key, key, plan)) from None
        for (name, _rpm, _tpm), window in zip(scopes, windows, strict=True):
            self.narrow(name, self.budget, window)

    # -- admit -> attempt -> settle -----------------------------------------------------------

    async def chat(self) -> ChatResult:
        try:
            await self.admit()
            result = await self.gateway.pipeline.chat(self)
        except BaseException as exc:
            self.unanswered(exc)
            raise
        if self.trace is not None:
            self.trace.answered(result)
        self.settle(result.usage, "ok")
        return result

    async def embed(self) -> EmbeddingResult:
        try:
            await self.admit()
            result = await self.gateway.pipeline.embed(self)
        except BaseException as exc:
            self.unanswered(exc)
            raise
        if self.trace is not None:
            self.trace.answered(result)
        self.settle(result.usage, "ok")
        return result

    async def run(self, attempt: Attempt[T], usage: Callable[[T], Usage]) -> T:
        """Admitted, attempted with ``attempt`` (an ingress's own way to ask a candidate:
        :meth:`modelyard.gateway.pipeline.Pipeline.run`) and settled with ``usage(result)``."""
        try:
            await self.admit()
            result = await self.gateway.pipeline.run(self, attempt)
        except BaseException as exc:
            self.unanswered(exc)
            raise
        if self.trace is not None:
            self.trace.answered(result)
        self.settle(usage(result), "ok")
        return result

    async def stream(self, opener: Opener | None = None) -> Stream:
        """Admitted and attempted until the first chunk arrived (retries and fallbacks happen
        before it); the caller relays the rest and ends it with :meth:`Stream.finish`.
        ``opener``: how a candidate's stream is opened, when not as a chat stream."""
        try:
            await self.admit()
            first, rest = await self.gateway.pipeline.stream(self, opener)
        except BaseException as exc:
            self.unanswered(exc)
            raise
        self.ttft_ms = int((time.perf_counter() - self.started) * 1000)
        if self.trace is not None:
            self.trace.first_token(self.ttft_ms, first)
        return Stream(self, first, rest)

    # -- settle -----------------------------------------------------------------------------

    def unanswered(self, exc: BaseException) -> None:
        """Settle a call that got no answer: its own error; cancelled (the caller left, or
        the server stops), charged the prompt if the upstream had been asked; or a fault,
        under the code its caller is answered with (:func:`modelyard.faults.as_error`)."""
        if isinstance(exc, asyncio.CancelledError):
            usage = Usage(self.prompt, 0, estimated=True) if self.asked else None
            self.settle(usage, "aborted")
        else:
            self.settle(None, "error", as_error(exc).code)

    def settle(
        self,
        usage: Usage | None,
        status: str,
        error_code: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Account for the call once (:func:`modelyard.gateway.settlement.settle`); never
        raises."""
        settlement.settle(self, usage, status, error_code, meta)
