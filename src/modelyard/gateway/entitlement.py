"""What a user's subscription allows, decided from the snapshot (no database):

* no subscription ever: 403 NO_SUBSCRIPTION when ``billing.require_subscription``; else
  the user pays from their credits if they were ever granted any (:func:`pays`), and one
  who never was is served unbilled or refused (402 NO_CREDITS) as
  ``billing.uncredited_users`` says;
* suspended, cancelled or expired: 403 SUBSCRIPTION_SUSPENDED / _CANCELLED / _EXPIRED;
* active: the plan's allowed models and capabilities narrow the candidates (403
  MODEL_NOT_IN_PLAN / CAPABILITY_NOT_IN_PLAN); its rpm, tpm and parallelism apply through the
  gateway's limiters; its credits are reserved before the call (``billing/holds.py``) at
  the estimate of ``billing/pricing.py``.
"""

from __future__ import annotations

import uuid

from modelyard.errors import Forbidden, PaymentRequired
from modelyard.gateway.resolve import Resolution
from modelyard.gateway.snapshot import Billing, Snapshot

ENDED = {
    "suspended": "is suspended",
    "cancelled": "was cancelled",
    "expired": "has expired",
}


def billing_of(snap: Snapshot, user_id: uuid.UUID) -> Billing | None:
    """The user's active subscription, None when they are not billed; 403 when calls stop."""
    billing = snap.billing.get(user_id)
    if billing is None:
        if snap.settings.get("billing.require_subscription"):
            raise Forbidden(
                "this user has no subscription; an admin must subscribe them to a plan",
                code="NO_SUBSCRIPTION",
            )
        return None
    if billing.status in ENDED:
        raise Forbidden(
            f"the {billing.plan!r} subscription {ENDED[billing.status]}; calls are stopped",
            code=f"SUBSCRIPTION_{billing.status.upper()}",
            details={"subscription_id": str(billing.subscription_id), "plan": billing.plan},
        )
    return billing


def pays(snap: Snapshot, user_id: uuid.UUID, billing: Billing | None) -> bool:
    """Whether the user's calls are paid in credits: a subscriber's are, and so are those of
    anyone ever granted credits; 402 NO_CREDITS for the others when they are refused."""
    if billing is not None or user_id in snap.credited:
        return True
    if snap.credit_rules.uncredited_users == "refuse":
        raise PaymentRequired(
            "this user holds no credits; an admin must grant them credits "
            "(POST /api/v1/credits/grants) or subscribe them to a plan",
            code="NO_CREDITS",
        )
    return False


def within_plan(billing: Billing, resolution: Resolution, needs: frozenset[str]) -> Resolution:
    """Only the candidates the plan allows; 403 naming what it does not allow."""
    if billing.allowed_capabilities is not None:
        missing = needs - billing.allowed_capabilities
        if missing:
            raise Forbidden(
                f"the {billing.plan!r} plan does not include {', '.join(sorted(missing))}",
                code="CAPABILITY_NOT_IN_PLAN",
                details={"plan": billing.plan, "capabilities": sorted(missing)},
            )
    allowed = billing.allowed_models
    if allowed is None:
        return resolution
    kept = tuple(
        c
        for c in resolution.candidates
        if c.model.model_id in allowed or f"{c.provider.name}/{c.model.model_id}" in allowed
    )
    if not kept:
        wanted = resolution.candidates[0].model.model_id if resolution.candidates else "?"
        raise Forbidden(
            f"the {billing.plan!r} plan does not include the model {wanted!r}",
            code="MODEL_NOT_IN_PLAN",
            details={"plan": billing.plan, "model": wanted},
        )
    return Resolution(kept, resolution.warning)
