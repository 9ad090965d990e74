"""A paying call's credits before it runs (``docs/billing.md``, "How calls are paid"):

* :func:`prepare`: when the caller pays in credits, the candidates without a credit price
  are refused or kept (``billing.unpriced_models``), and the call's worst case is its prompt
  plus its ``max_tokens``, else its model's max output, else
  ``billing.worst_case_completion_tokens``, times ``n`` (each of the n answers may use it);
* :func:`hold`: the credit hold reserves that worst case at the dearest candidate's rate;
  when the balance cannot cover it, the call is sent with ``max_tokens`` capped to what the
  balance pays for, shared between the ``n`` answers (``call.capped``, the
  ``x-modelyard-max-tokens-capped`` header), and
  refused with 402 only when not even ``billing.min_completion_tokens`` are affordable.

The money arithmetic is :mod:`modelyard.billing.pricing`'s; the hold is
:class:`modelyard.billing.holds.CreditKeeper`'s.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from modelyard.billing.pricing import affordable, estimate
from modelyard.db.types import canonical
from modelyard.errors import Forbidden, PaymentRequired
from modelyard.gateway import request
from modelyard.gateway.resolve import Resolution

if TYPE_CHECKING:
    from modelyard.gateway.call import Call


def prepare(call: Call, completion: bool) -> None:
    """Make ``call`` a paying one: its candidates narrowed to the priced ones (unless
    unpriced calls are flagged), its worst case in tokens."""
    snap = call.snap
    rules = snap.credit_rules
    candidates = call.resolution.candidates
    if rules.unpriced_models == "refuse":
        priced = tuple(c for c in candidates if snap.rate_at(c.model.id, call.at)[1] is not None)
        if not priced:
            model = candidates[0].model.model_id
            raise Forbidden(
                f"the model {model!r} has no price, and calls paid in credits need one; an "
                "admin must give it a price (POST /api/v1/models/{id}/prices)",
                code="MODEL_UNPRICED",
                details={"model": model},
            )
        if len(priced) < len(candidates):
            call.resolution = Resolution(priced, call.resolution.warning)
    call.billed = True
    if completion:
        model_max = call.resolution.candidates[0].model.max_output_tokens
        most = request.max_completion(call.body, model_max, rules.worst_case_completion)
        call.worst = call.prompt + most * request.choices(call.body)


async def hold(call: Call) -> None:
    """Reserve what the call may cost, capping its ``max_tokens`` to what the balance pays
    for when it cannot cover the worst case; 402 when not even a minimal answer is."""
    snap, prompt = call.snap, call.prompt
    rates = [snap.rate_at(c.model.id, call.at)[1] for c in call.resolution.candidates]
    completion = call.worst - prompt
    amount = estimate(rates, prompt, completion)
    if amount <= 0:
        return  # free on purpose
    minimum = min(completion, snap.credit_rules.min_completion)
    least = estimate(rates, prompt, minimum)
    try:
        reservation = await call.gateway.credits.reserve(call.key.user_id, amount, least)
    except PaymentRequired as exc:
        raise refusal(call, exc, amount, least, minimum) from None
    call.reservation = reservation
    if reservation.amount < amount:
        tokens = affordable(rates, prompt, reservation.amount)
        if tokens is not None and tokens < completion:
            each = max(1, tokens // request.choices(call.body))  # n answers share the balance
            request.cap_completion(call.body, each)
            call.capped = each


def refusal(
    call: Call, exc: PaymentRequired, amount: Decimal, least: Decimal, minimum: int
) -> PaymentRequired:
    """402 naming the plan, what is available, what the call needs and what to do."""
    available = exc.details.get("available", "0")
    amount, least = canonical(amount), canonical(least)
    plan = call.plan.plan if call.plan is not None else None
    whose = f" on the {plan!r} plan" if plan else ""
    if minimum and least < amount:
        need = (
            f"this call may cost up to {amount} and needs at least {least} (its prompt and a "
            f"{minimum}-token answer)"
        )
    else:
        need = f"this call may cost up to {amount}"
    return PaymentRequired(
        f"insufficient credits{whose}: {available} available, {need}; top up the credits "
        "(an admin grants them) or send a shorter prompt",
        details={
            "available": available,
            "estimate": format(amount, "f"),
            "least": format(least, "f"),
            "plan": plan,
        },
    )
