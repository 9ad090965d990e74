"""Settling a call, once, whatever happened to it: the tpm windows corrected to the tokens
used, the cost at the price in force when it started, the credits charged from its
reservation, its parallel slot and (when it got no answer) its Idempotency-Key given back,
metrics, and its usage row handed to the recorder.

:func:`settle` never raises: each step runs whatever the others do, and a failing step is
logged with the request id (:func:`_fault`). Nothing here touches the database.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from modelyard.adapters.base import Usage
from modelyard.billing.pricing import cost_of
from modelyard.gateway.snapshot import PriceEntry
from modelyard.usage.record import UsageRecord

if TYPE_CHECKING:
    from modelyard.gateway.call import Call
    from modelyard.gateway.tracing import CallTrace

log = logging.getLogger("modelyard.gateway")
LIMIT_CODES = frozenset({"LIMIT_EXCEEDED", "PROVIDER_BUSY"})


def settle(
    call: Call,
    usage: Usage | None,
    status: str,
    error_code: str | None = None,
    meta: dict[str, Any] | None = None,
) -> None:
    """Account for the call once: tokens, cost, credits, slots, metrics, the usage row.

    Never raises: whatever the call acquired (tpm charges, its credit reservation, its
    parallel slot) is given back even when a step before it fails, and a failing step
    is logged with the request id while the others still run (:func:`_fault`)."""
    if call.settled:
        return
    call.settled = True
    if call.meta:
        meta = {**call.meta, **(meta or {})}
    if call.key.client_id is not None:  # an OAuth access token: which app called
        meta = {**(meta or {}), "oauth_client": call.key.client_id}
    candidate, usage = call.candidate, usage or Usage()
    price: PriceEntry | None = None
    cost = credits = None
    try:
        price = call.snap.price_at(candidate.model.id, call.at) if candidate else None
        rules = call.snap.credit_rules
        cost, credits = cost_of(price, usage, rules.credits_per_usd) if price else (None, None)
    except Exception:
        _fault(call, "pricing")
    charged, meta = _give_back(call, usage, status, credits, meta)
    unpriced = call.billed and credits is None and candidate is not None
    if unpriced:  # billing.unpriced_models
        meta = {**(meta or {}), "unpriced": True}
    elapsed = time.perf_counter() - call.started
    try:
        _report(call, usage, status, error_code, price, cost, elapsed, unpriced)
    except Exception:
        _fault(call, "metrics")
    try:
        _record(call, usage, status, error_code, price, cost, credits, charged, meta, elapsed)
    except Exception:
        _fault(call, "usage recording")
        if charged:  # no row will carry the charge to the ledger: give it back
            call.gateway.credits.done(call.key.user_id, charged, stored=False)
    if call.trace is not None:
        _traced(call.trace, call, usage, status, error_code, cost, charged)


def _traced(
    trace: CallTrace,
    call: Call,
    usage: Usage,
    status: str,
    error_code: str | None,
    cost: Decimal | None,
    charged: Decimal | None,
) -> None:
    """The outcome on the call's span (:mod:`modelyard.gateway.tracing`)."""
    try:
        trace.settled(call, usage, status, error_code, cost, charged)
    except Exception:
        _fault(call, "tracing")


def _give_back(
    call: Call, usage: Usage, status: str, credits: Decimal | None, meta: dict[str, Any] | None
) -> tuple[Decimal | None, dict[str, Any] | None]:
    """Release what admission and the attempts acquired, each whatever the others do:
    the tpm windows corrected to what was used, the credit reservation settled (charging
    what the call used), the parallel slot, the Idempotency-Key of a call that got no
    answer. Returns the charge and the row's meta."""
    gateway, candidate = call.gateway, call.candidate
    charged = Decimal(0) if call.billed else None  # billed, free: 0, not "unbilled"
    if call.charges:
        try:
            served = candidate.provider.id if candidate is not None else None
            gateway.settler.correct(call.charges, usage.total_tokens, served)
        except Exception:
            _fault(call, "tpm correction")
    if call.reservation is not None:
        reservation, call.reservation = call.reservation, None
        try:
            charged = gateway.credits.settle(reservation, credits or Decimal(0))
            if credits is not None and charged < credits:
                meta = {**(meta or {}), "credits_capped_from": format(credits, "f")}
        except Exception:
            _fault(call, "credit settlement")
            charged = None
            try:
                gateway.credits.release(reservation)  # nothing charged, nothing kept
            except Exception:
                _fault(call, "credit release")
    if call.slot is not None:
        slot, call.slot = call.slot, None
        try:
            gateway.settler.release(slot)
        except Exception:
            _fault(call, "slot release")
    if call.idempotency_key is not None:
        _unclaim(call, status)
        meta = {**(meta or {}), "idempotency_key": call.idempotency_key}
    return charged, meta


def _unclaim(call: Call, status: str) -> None:
    """Give the Idempotency-Key of a call that got no answer back: the caller may retry."""
    claimed, call.claimed = call.claimed, None
    if claimed is not None and status != "ok" and call.ttft_ms is None:
        try:
            call.gateway.settler.unclaim(claimed, call.request_id)
        except Exception:
            _fault(call, "idempotency key release")


def _report(
    call: Call,
    usage: Usage,
    status: str,
    error_code: str | None,
    price: PriceEntry | None,
    cost: Decimal | None,
    elapsed: float,
    unpriced: bool,
) -> None:
    metrics, candidate = call.gateway.metrics, call.candidate
    if unpriced and candidate is not None:
        metrics.unpriced(candidate.provider.name, candidate.model.model_id)
    metrics.call(
        provider=candidate.provider.name if candidate else "",
        model=candidate.model.model_id if candidate else "",
        operation=call.operation,
        status=status,
        seconds=elapsed,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost=cost,
        currency=price.currency if price else None,
        attempts=call.attempts,
        fallbacks=call.fallbacks,
    )
    if error_code in LIMIT_CODES:
        metrics.rejected(error_code.lower())


def _record(
    call: Call,
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
    asked_for = call.candidate or call.resolution.candidates[0]
    call.gateway.recorder.record(
        UsageRecord(
            request_id=call.request_id,
            client_request_id=call.client_request_id,
            occurred_at=call.at,
            user_id=call.key.user_id,
            api_key_id=call.key.key_id,
            provider_id=asked_for.provider.id,
            model_id=asked_for.model.id,
            provider_name=asked_for.provider.name,
            model_name=asked_for.model.model_id,
            operation=call.operation,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            estimated=usage.estimated,
            latency_ms=int(elapsed * 1000),
            ttft_ms=call.ttft_ms,
            attempts=call.attempts,
            status=status,
            error_code=error_code,
            price_id=price.id if price else None,
            input_per_mtok=price.input_per_mtok if price else None,
            output_per_mtok=price.output_per_mtok if price else None,
            cached_input_per_mtok=price.cached_input_per_mtok if price else None,
            cache_write_per_mtok=price.cache_write_per_mtok if price else None,
            currency=price.currency if price else None,
            cost=cost,
            credits=credits,
            meta=meta or {},
            charged_credits=charged,
        )
    )


def _fault(call: Call, step: str) -> None:
    """A step of :meth:`settle` failed: a bug or a broken part, never the caller's
    business. Logged with its traceback and the request id; the call goes on."""
    log.exception("settling a call failed at %s (request %s)", step, call.request_id)
