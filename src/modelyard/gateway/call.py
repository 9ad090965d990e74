"""One call through the gateway, on one straight line: admit -> attempt(s) -> settle.

A :class:`Call` is made from a caller's request (:func:`chat_call`, :func:`embedding_call`):
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
  slot released, metrics, and the usage row handed to the recorder.

``settle`` runs exactly once whatever happens: a failure while admitting or attempting
settles with status ``error``, a cancellation (the caller left, the server stops) with
``aborted``; a stream (:mod:`modelyard.gateway.streaming`) settles when it ends, fails or is
abandoned. Nothing here touches the database.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from modelyard.adapters.base import ChatResult, EmbeddingResult, Usage
from modelyard.billing.holds import Reservation
from modelyard.billing.pricing import cost_of
from modelyard.errors import ModelyardError
from modelyard.gateway import credit, entitlement, request
from modelyard.gateway.limits.base import PARALLEL_WAIT_S, Charge, Slot, Window
from modelyard.gateway.resolve import Candidate, Resolution, resolve
from modelyard.gateway.snapshot import Billing, KeyEntry, Snapshot
from modelyard.gateway.streaming import Stream
from modelyard.usage.record import UsageRecord

if TYPE_CHECKING:
    from modelyard.gateway.service import Gateway

LIMIT_CODES = frozenset({"LIMIT_EXCEEDED", "PROVIDER_BUSY"})


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
        "failures",
        "fallbacks",
        "gateway",
        "key",
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
        """The caller's own limits, the plan's parallelism, then the credits the call may
        cost. Whatever is acquired here is released by :meth:`settle`."""
        key, plan, gateway = self.key, self.plan, self.gateway
        scopes: list[tuple[str, int | None, int | None]] = []
        if key.key_id is not None and (key.rpm_limit or key.tpm_limit):
            scopes.append((f"key:{key.key_id}", key.rpm_limit, key.tpm_limit))
        if key.user_rpm_limit or key.user_tpm_limit:
            scopes.append((f"user:{key.user_id}", key.user_rpm_limit, key.user_tpm_limit))
        if plan is not None and (plan.rpm_limit or plan.tpm_limit):
            scopes.append((f"plan:{key.user_id}", plan.rpm_limit, plan.tpm_limit))
        if scopes:  # one round trip for all of them (Redis)
            windows = await gateway.limiter.hit_many(scopes, self.budget)
            for (name, _rpm, _tpm), window in zip(scopes, windows, strict=True):
                self.narrow(name, self.budget, window)
        if plan is not None and plan.max_parallel:
            self.slot = await gateway.limiter.acquire_slot(
                f"plan-parallel:{key.user_id}", plan.max_parallel, PARALLEL_WAIT_S
            )
        if self.billed:
            await credit.hold(self)

    # -- admit -> attempt -> settle -----------------------------------------------------------

    async def chat(self) -> ChatResult:
        try:
            await self.admit()
            result = await self.gateway.pipeline.chat(self)
        except BaseException as exc:
            self.unanswered(exc)
            raise
        self.settle(result.usage, "ok")
        return result

    async def embed(self) -> EmbeddingResult:
        try:
            await self.admit()
            result = await self.gateway.pipeline.embed(self)
        except BaseException as exc:
            self.unanswered(exc)
            raise
        self.settle(result.usage, "ok")
        return result

    async def stream(self) -> Stream:
        """Admitted and attempted until the first chunk arrived (retries and fallbacks happen
        before it); the caller relays the rest and ends it with :meth:`Stream.finish`."""
        try:
            await self.admit()
            first, rest = await self.gateway.pipeline.stream(self)
        except BaseException as exc:
            self.unanswered(exc)
            raise
        self.ttft_ms = int((time.perf_counter() - self.started) * 1000)
        return Stream(self, first, rest)

    # -- settle -----------------------------------------------------------------------------

    def unanswered(self, exc: BaseException) -> None:
        """Settle a call that got no answer: its own error; cancelled (the caller left, or
        the server stops), charged the prompt if the upstream had been asked; or a fault."""
        if isinstance(exc, ModelyardError):
            self.settle(None, "error", exc.code)
        elif isinstance(exc, asyncio.CancelledError):
            usage = Usage(self.prompt, 0, estimated=True) if self.asked else None
            self.settle(usage, "aborted")
        else:
            self.settle(None, "error", ModelyardError.code)

    def settle(
        self,
        usage: Usage | None,
        status: str,
        error_code: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Account for the call once: tokens, cost, credits, slots, metrics, the usage row."""
        if self.settled:
            return
        self.settled = True
        gateway, candidate = self.gateway, self.candidate
        usage = usage or Usage()
        if self.charges:
            served = candidate.provider.id if candidate is not None else None
            gateway.settler.correct(self.charges, usage.total_tokens, served)
        price = self.snap.price_at(candidate.model.id, self.at) if candidate else None
        rules = self.snap.credit_rules
        cost, credits = cost_of(price, usage, rules.credits_per_usd) if price else (None, None)
        charged = Decimal(0) if self.billed else None  # billed, free: 0, not "unbilled"
        if self.reservation is not None:
            charged = gateway.credits.settle(self.reservation, credits or Decimal(0))
            self.reservation = None
            if credits is not None and charged < credits:
                meta = {**(meta or {}), "credits_capped_from": format(credits, "f")}
        if self.slot is not None:
            gateway.settler.release(self.slot)
            self.slot = None
        elapsed = time.perf_counter() - self.started
        provider = candidate.provider if candidate else None
        model = candidate.model if candidate else None
        if self.billed and credits is None and provider and model:  # billing.unpriced_models
            meta = {**(meta or {}), "unpriced": True}
            gateway.metrics.unpriced(provider.name, model.model_id)
        gateway.metrics.call(
            provider=provider.name if provider else "",
            model=model.model_id if model else "",
            operation=self.operation,
            status=status,
            seconds=elapsed,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=cost,
            currency=price.currency if price else None,
            attempts=self.attempts,
            fallbacks=self.fallbacks,
        )
        if error_code in LIMIT_CODES:
            gateway.metrics.rejected(error_code.lower())
        gateway.recorder.record(
            UsageRecord(
                request_id=self.request_id,
                occurred_at=self.at,
                user_id=self.key.user_id,
                api_key_id=self.key.key_id,
                provider_id=provider.id if provider else None,
                model_id=model.id if model else None,
                provider_name=provider.name if provider else None,
                model_name=model.model_id if model else None,
                operation=self.operation,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                estimated=usage.estimated,
                latency_ms=int(elapsed * 1000),
                ttft_ms=self.ttft_ms,
                attempts=self.attempts,
                status=status,
                error_code=error_code,
                price_id=price.id if price else None,
                input_per_mtok=price.input_per_mtok if price else None,
                output_per_mtok=price.output_per_mtok if price else None,
                cached_input_per_mtok=price.cached_input_per_mtok if price else None,
                currency=price.currency if price else None,
                cost=cost,
                credits=credits,
                meta=meta or {},
                charged_credits=charged,
            )
        )


def chat_call(
    gateway: Gateway, snap: Snapshot, key: KeyEntry, request_id: str, body: dict[str, Any]
) -> Call:
    """A chat call, ready to admit: 400 for a malformed request, 403 for what the caller's
    plan does not allow, 404/400 when no model can serve it."""
    needs = request.chat_needs(body)
    plan = entitlement.billing_of(snap, key.user_id)
    billed = entitlement.pays(snap, key.user_id, plan)
    resolution = resolve(snap, key.user_id, request.requested_model(body), "chat", needs)
    if plan is not None:
        resolution = entitlement.within_plan(plan, resolution, needs)
    prompt = request.prompt_estimate(body, "chat")
    estimate = snap.credit_rules.estimate_completion  # rate windows: a realistic guess
    model_max = resolution.candidates[0].model.max_output_tokens
    asked = request.requested_completion(body)
    budget = prompt + (asked or min(estimate, model_max or estimate))
    operation = "function_call" if body.get("tools") or body.get("functions") else "chat"
    call = Call(gateway, snap, key, request_id, operation, body, resolution, plan, prompt, budget)
    if billed:
        credit.prepare(call, completion=True)
    return call


def embedding_call(
    gateway: Gateway, snap: Snapshot, key: KeyEntry, request_id: str, body: dict[str, Any]
) -> Call:
    needs = request.embedding_needs(body)
    plan = entitlement.billing_of(snap, key.user_id)
    billed = entitlement.pays(snap, key.user_id, plan)
    resolution = resolve(snap, key.user_id, request.requested_model(body), "embedding", needs)
    if plan is not None:
        resolution = entitlement.within_plan(plan, resolution, needs)
    prompt = request.prompt_estimate(body, "embedding")
    call = Call(gateway, snap, key, request_id, "embedding", body, resolution, plan, prompt, prompt)
    if billed:
        credit.prepare(call, completion=False)
    return call
