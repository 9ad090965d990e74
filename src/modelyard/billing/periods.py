"""Billing periods: renewals with rollover, the end of cancelled and suspended subscriptions,
and the write-off of expired grants. The server runs :func:`run_due` every minute
(``billing/renewal.py``); ``modelyard billing renew --now`` runs it once.

It is idempotent and safe on several replicas at once: it runs in one registry write
transaction (one writer at a time on both engines), each step moves a subscription past the
point that made it due, and every plan or rollover grant carries a unique ``ref``, so a second
run finds nothing to do and never grants twice.

At a period's end an active subscription renews into the period that contains *now* (a
server that was down for months grants once, not once per missed month): what is left of the
ending period's plan and rollover grants carries over per the plan (``none``, ``capped`` at
``rollover_cap``, ``full``) as a ``rollover`` grant expiring with the new period, and the
plan's monthly credits are granted. A subscription due while suspended expires; one marked
``cancel_at_period_end`` becomes cancelled; one whose plan was retired expires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from pydantic import Field
from sqlalchemy import delete, func, select

from modelyard.billing import ledger
from modelyard.billing.subscriptions import (
    CURRENT,
    add_months,
    grant_period,
    period_index,
    snapshot,
)
from modelyard.db.tables import CreditEntry, CreditGrant, CreditHold, Plan, Subscription
from modelyard.registry.actors import Actor
from modelyard.registry.common import Amount, View
from modelyard.registry.tx import Database, Tx

BATCH = 500
ZERO = Decimal(0)


@dataclass
class RenewalReport:
    renewed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    written_off: Decimal = ZERO
    grants_expired: int = 0
    holds_dropped: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.renewed or self.cancelled or self.expired or self.grants_expired)


# What a run did, as the API and `modelyard billing renew --json` show it.
class RenewalView(View):
    renewed: list[str] = Field(description="subscriptions renewed into a new period")
    cancelled: list[str] = Field(description="subscriptions cancelled at their period's end")
    expired: list[str] = Field(description="subscriptions expired (suspended or plan retired)")
    written_off: Amount = Field(description="credits left on expired grants, written off")
    grants_expired: int
    holds_dropped: int = Field(description="lapsed credit holds of gateways removed")

    @classmethod
    def of(cls, report: RenewalReport) -> RenewalView:
        return cls(
            renewed=report.renewed,
            cancelled=report.cancelled,
            expired=report.expired,
            written_off=report.written_off,
            grants_expired=report.grants_expired,
            holds_dropped=report.holds_dropped,
        )


async def renew(db: Database, actor: Actor) -> RenewalView:
    """An admin's run of :func:`run_due` now (the admin API's and GraphQL's)."""
    actor.require_admin("run billing renewals")
    return RenewalView.of(await run_due(db, actor))


async def run_due(db: Database, actor: Actor | None = None) -> RenewalReport:
    """Everything due now; ``actor`` (an admin asking for a run) is who the audit trail
    names, else the server's billing clock."""
    report = RenewalReport()
    async with db.write(actor or Actor.operator("billing")) as tx:
        due = (
            await tx.session.scalars(
                select(Subscription)
                .where(Subscription.status.in_(CURRENT), Subscription.current_period_end <= tx.now)
                .order_by(Subscription.current_period_end, Subscription.id)
                .limit(BATCH)
            )
        ).all()
        for sub in due:
            await _period_end(tx, sub, report)
        await _write_off_expired(tx, report)
        dropped = await tx.session.execute(
            delete(CreditHold).where(CreditHold.expires_at <= tx.now)
        )
        report.holds_dropped = int(getattr(dropped, "rowcount", 0) or 0)
    return report


async def _period_end(tx: Tx, sub: Subscription, report: RenewalReport) -> None:
    await ledger.lock_user(tx.session, sub.user_id)
    plan = await tx.session.get(Plan, sub.plan_id)
    assert plan is not None
    before = snapshot(sub)
    ending = sub.current_period_end
    if sub.status == "suspended" or not plan.active or sub.cancel_at_period_end:
        sub.status = "cancelled" if sub.cancel_at_period_end else "expired"
        sub.ended_at = ending
        sub.updated_at = tx.now
        (report.cancelled if sub.status == "cancelled" else report.expired).append(str(sub.id))
        await tx.session.flush()
        await tx.record(
            f"subscription.{sub.status}", "subscription", sub.id, before=before, after=snapshot(sub)
        )
        return
    current = period_index(sub.period_anchor, sub.current_period_start)
    index = current + 1
    while add_months(sub.period_anchor, index + 1) <= tx.now:
        index += 1
    periods = index - current
    sub.current_period_start = add_months(sub.period_anchor, index)
    sub.current_period_end = add_months(sub.period_anchor, index + 1)
    sub.updated_at = tx.now
    await tx.session.flush()
    await tx.record(
        "subscription.renew", "subscription", sub.id, before=before, after=snapshot(sub)
    )
    if periods == 1:  # consecutive periods only: nothing carries over a gap
        await _roll_over(tx, sub, plan, ending)
    await grant_period(tx, sub, plan.monthly_credits)
    report.renewed.append(str(sub.id))


async def _roll_over(tx: Tx, sub: Subscription, plan: Plan, ending: datetime) -> None:
    """Carry what is left of the ending period's plan and rollover grants into the new one."""
    parts = [
        p
        for p in await ledger.remaining(tx.session, sub.user_id, tx.now, live=False)
        if p.grant.subscription_id == sub.id
        and p.grant.source in ("plan", "rollover")
        and p.grant.expires_at == ending
    ]
    left = sum((p.left for p in parts), ZERO)
    carry = {"none": ZERO, "capped": min(left, plan.rollover_cap or ZERO), "full": left}[
        plan.rollover
    ]
    if carry <= 0:
        return
    ref = f"rollover:{sub.id}:{sub.current_period_start.isoformat()}"
    if await tx.session.scalar(select(CreditGrant.id).where(CreditGrant.ref == ref)):
        return
    moving = carry
    for part in parts:  # the carried credits leave the old grants ...
        take = min(moving, part.left)
        if take > 0:
            ledger.write_off(tx.session, part, tx.now, take, "rolled over")
            moving -= take
    grant = await ledger.add_grant(  # ... and arrive in one rollover grant
        tx.session,
        user_id=sub.user_id,
        amount=carry,
        source="rollover",
        now=tx.now,
        actor="billing",
        expires_at=sub.current_period_end,
        subscription_id=sub.id,
        period_start=sub.current_period_start,
        ref=ref,
        reason=f"rollover ({plan.rollover}) from the period ending {ending.isoformat()}",
    )
    await tx.record(
        "credits.rollover",
        "credit_grant",
        grant.id,
        after={
            "user_id": str(sub.user_id),
            "amount": format(carry, "f"),
            "left": format(left, "f"),
        },
    )


async def _write_off_expired(tx: Tx, report: RenewalReport) -> None:
    """What is left of expired grants leaves the balance, but never the part gateways still
    hold for calls in flight (that part is written off by a later run)."""
    left = func.sum(CreditEntry.amount)
    users = (
        await tx.session.scalars(
            select(CreditGrant.user_id)
            .join(CreditEntry, CreditEntry.grant_id == CreditGrant.id)
            .where(CreditGrant.expires_at.is_not(None), CreditGrant.expires_at <= tx.now)
            .group_by(CreditGrant.id, CreditGrant.user_id)
            .having(left > 0)
        )
    ).all()
    for user_id in sorted(set(users)):
        await ledger.lock_user(tx.session, user_id)
        live = {p.grant.id for p in await ledger.remaining(tx.session, user_id, tx.now)}
        # After the write-off the balance must still cover every hold.
        free = await ledger.balance(tx.session, user_id) - await ledger.held(
            tx.session, user_id, tx.now
        )
        for part in await ledger.remaining(tx.session, user_id, tx.now, live=False):
            if part.grant.id in live:
                continue
            amount = min(part.left, max(free, ZERO))
            if amount <= 0:
                continue
            ledger.write_off(tx.session, part, tx.now, amount, "expired")
            free -= amount
            report.written_off += amount
            report.grants_expired += 1
            await tx.record(
                "credits.expire",
                "credit_grant",
                part.grant.id,
                after={"user_id": str(user_id), "amount": format(amount, "f")},
            )
