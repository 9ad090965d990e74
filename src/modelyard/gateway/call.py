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
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from modelyard.adapters.base import ChatResult, EmbeddingResult, Usage
from modelyard.billing.holds import Reservation
from modelyard.billing.pricing import cost_of
from modelyard.errors import LimitExceeded, ModelyardError, ProviderBusy
from modelyard.faults import as_error
from modelyard.gateway import credit, entitlement, idempotency, params, request
from modelyard.gateway.limits.base import PARALLEL_WAIT_S, Charge, Slot, Window
from modelyard.gateway.resolve import Candidate, Resolution, resolve
from modelyard.gateway.scopes import caller_scope
from modelyard.gateway.snapshot import Billing, KeyEntry, PriceEntry, Snapshot
from modelyard.gateway.streaming import Stream
from modelyard.usage.record import UsageRecord

if TYPE_CHECKING:
    from modelyard.gateway.service import Gateway

log = logging.getLogger("modelyard.gateway")
LIMIT_CODES = frozenset({"LIMIT_EXCEEDED", "PROVIDER_BUSY"})
T = TypeVar("T")


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
        # What the caller said about the call (set by chat_call / embedding_call):
        self.client_request_id: str | None = None  # correlation only, never the row's key
        self.idempotency_key: str | None = None
        self.claimed: str | None = None  # the Idempotency-Key claim, given back if unanswered

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
        """Account for the call once: tokens, cost, credits, slots, metrics, the usage row.

        Never raises: whatever the call acquired (tpm charges, its credit reservation, its
        parallel slot) is given back even when a step before it fails, and a failing step
        is logged with the request id while the others still run (:meth:`_fault`)."""
        if self.settled:
            return
        self.settled = True
        candidate, usage = self.candidate, usage or Usage()
        price: PriceEntry | None = None
        cost = credits = None
        try:
            price = self.snap.price_at(candidate.model.id, self.at) if candidate else None
            rules = self.snap.credit_rules
            cost, credits = cost_of(price, usage, rules.credits_per_usd) if price else (None, None)
        except Exception:
            self._fault("pricing")
        charged, meta = self._give_back(usage, status, credits, meta)
        unpriced = self.billed and credits is None and candidate is not None
        if unpriced:  # billing.unpriced_models
            meta = {**(meta or {}), "unpriced": True}
        elapsed = time.perf_counter() - self.started
        try:
            self._report(usage, status, error_code, price, cost, elapsed, unpriced)
        except Exception:
            self._fault("metrics")
        try:
            self._record(usage, status, error_code, price, cost, credits, charged, meta, elapsed)
        except Exception:
            self._fault("usage recording")
            if charged:  # no row will carry the charge to the ledger: give it back
                self.gateway.credits.done(self.key.user_id, charged, stored=False)

    def _give_back(
        self, usage: Usage, status: str, credits: Decimal | None, meta: dict[str, Any] | None
    ) -> tuple[Decimal | None, dict[str, Any] | None]:
        """Release what admission and the attempts acquired, each whatever the others do:
        the tpm windows corrected to what was used, the credit reservation settled (charging
        what the call used), the parallel slot, the Idempotency-Key of a call that got no
        answer. Returns the charge and the row's meta."""
        gateway, candidate = self.gateway, self.candidate
        charged = Decimal(0) if self.billed else None  # billed, free: 0, not "unbilled"
        if self.charges:
            try:
                served = candidate.provider.id if candidate is not None else None
                gateway.settler.correct(self.charges, usage.total_tokens, served)
            except Exception:
                self._fault("tpm correction")
        if self.reservation is not None:
            reservation, self.reservation = self.reservation, None
            try:
                charged = gateway.credits.settle(reservation, credits or Decimal(0))
                if credits is not None and charged < credits:
                    meta = {**(meta or {}), "credits_capped_from": format(credits, "f")}
            except Exception:
                self._fault("credit settlement")
                charged = None
                try:
                    gateway.credits.release(reservation)  # nothing charged, nothing kept
                except Exception:
                    self._fault("credit release")
        if self.slot is not None:
            slot, self.slot = self.slot, None
            try:
                gateway.settler.release(slot)
            except Exception:
                self._fault("slot release")
        if self.idempotency_key is not None:
            self._unclaim(status)
            meta = {**(meta or {}), "idempotency_key": self.idempotency_key}
        return charged, meta

    def _unclaim(self, status: str) -> None:
        """Give the Idempotency-Key of a call that got no answer back: the caller may retry."""
        claimed, self.claimed = self.claimed, None
        if claimed is not None and status != "ok" and self.ttft_ms is None:
            try:
                self.gateway.settler.unclaim(claimed, self.request_id)
            except Exception:
                self._fault("idempotency key release")

    def _report(
        self,
        usage: Usage,
        status: str,
        error_code: str | None,
        price: PriceEntry | None,
        cost: Decimal | None,
        elapsed: float,
        unpriced: bool,
    ) -> None:
        metrics, candidate = self.gateway.metrics, self.candidate
        if unpriced and candidate is not None:
            metrics.unpriced(candidate.provider.name, candidate.model.model_id)
        metrics.call(
            provider=candidate.provider.name if candidate else "",
            model=candidate.model.model_id if candidate else "",
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
            metrics.rejected(error_code.lower())

    def _record(
        self,
        usage: Usage,
        status: str,
        error_code: str | None,
        price: PriceEntry | None,
        cost: Decimal | None,
        credits: Decimal | None,
        charged: Decimal | None,
        meta: dict[str, Any] | None,
        elapsed: float,
    ) -> None:
        """Hand the call's usage row to the recorder."""
        # A call refused before any candidate was tried keeps the model it asked for.
        asked_for = self.candidate or self.resolution.candidates[0]
        self.gateway.recorder.record(
            UsageRecord(
                request_id=self.request_id,
                client_request_id=self.client_request_id,
                occurred_at=self.at,
                user_id=self.key.user_id,
                api_key_id=self.key.key_id,
                provider_id=asked_for.provider.id,
                model_id=asked_for.model.id,
                provider_name=asked_for.provider.name,
                model_name=asked_for.model.model_id,
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

    def _fault(self, step: str) -> None:
        """A step of :meth:`settle` failed: a bug or a broken part, never the caller's
        business. Logged with its traceback and the request id; the call goes on."""
        log.exception("settling a call failed at %s (request %s)", step, self.request_id)


def chat_call(
    gateway: Gateway,
    snap: Snapshot,
    key: KeyEntry,
    request_id: str,
    body: dict[str, Any],
    *,
    client_request_id: str | None = None,
    idempotency_key: str | None = None,
) -> Call:
    """A chat call, ready to admit: 400 for a malformed request, 403 for what the caller's
    plan does not allow (recorded), 404/400 when no model can serve it. ``request_id`` is
    the server's own (the usage row's key); the caller's ids only travel with the call."""
    params.check_chat(body)
    needs = request.chat_needs(body)
    resolution = resolve(snap, key.user_id, request.requested_model(body), "chat", needs)
    operation = "function_call" if body.get("tools") or body.get("functions") else "chat"
    call = Call(gateway, snap, key, request_id, operation, body, resolution, None, 0, 0)
    call.client_request_id, call.idempotency_key = client_request_id, idempotency_key
    billed = _recorded(call, lambda: _entitled(call, needs))
    model_max = call.resolution.candidates[0].model.max_output_tokens
    params.check_output(body, model_max)
    call.prompt = prompt = request.prompt_estimate(body, "chat")
    estimate = snap.credit_rules.estimate_completion  # rate windows: a realistic guess
    asked = request.requested_completion(body)
    call.budget = call.worst = prompt + (asked or min(estimate, model_max or estimate))
    if billed:
        _recorded(call, lambda: credit.prepare(call, completion=True))
    return call


def embedding_call(
    gateway: Gateway,
    snap: Snapshot,
    key: KeyEntry,
    request_id: str,
    body: dict[str, Any],
    *,
    client_request_id: str | None = None,
    idempotency_key: str | None = None,
) -> Call:
    params.check_embedding(body)
    needs = request.embedding_needs(body)
    resolution = resolve(snap, key.user_id, request.requested_model(body), "embedding", needs)
    call = Call(gateway, snap, key, request_id, "embedding", body, resolution, None, 0, 0)
    call.client_request_id, call.idempotency_key = client_request_id, idempotency_key
    billed = _recorded(call, lambda: _entitled(call, needs))
    call.prompt = call.budget = call.worst = request.prompt_estimate(body, "embedding")
    if billed:
        _recorded(call, lambda: credit.prepare(call, completion=False))
    return call


def _entitled(call: Call, needs: frozenset[str]) -> bool:
    """The caller's plan on the call, its candidates narrowed to what the plan allows;
    whether the call is paid in credits."""
    snap, user = call.snap, call.key.user_id
    call.plan = plan = entitlement.billing_of(snap, user)
    billed = entitlement.pays(snap, user, plan)
    if plan is not None:
        call.resolution = entitlement.within_plan(plan, call.resolution, needs)
    return billed


def _recorded(call: Call, step: Callable[[], T]) -> T:
    """``step``'s answer; a refusal (the plan, an unpriced model) is recorded first, naming
    the model asked for."""
    try:
        return step()
    except ModelyardError as exc:
        call.settle(None, "error", exc.code)
        raise
