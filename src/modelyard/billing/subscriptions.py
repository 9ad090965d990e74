"""Subscriptions: which plan a user is on, for which period, in which state.

    active ──suspend──▶ suspended ──resume──▶ active
      │                    │
      ├──cancel──▶ cancelled ◀──cancel──┤          (terminal)
      └──period ends unrenewed──▶ expired ◀──┘      (terminal; set by the renewal job)

A user has at most one current (active or suspended) subscription; the database holds that
with a partial unique index. Creating one grants the plan's credits for its first period;
renewals, rollover and expiry are ``billing/periods.py``'s. External billing ids (say a
Stripe customer and subscription) are stored for reference and never called.
"""

from __future__ import annotations

import calendar
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field
from sqlalchemy import func, select

from modelyard.billing import ledger, plans
from modelyard.db.tables import CreditGrant, Plan, Subscription, User
from modelyard.errors import Conflict
from modelyard.registry.actors import Actor
from modelyard.registry.common import Page, PageRequest, Spec, View, not_found, parse_id
from modelyard.registry.tx import Database, Tx

Status = Literal["active", "cancelled", "expired", "suspended"]
CURRENT = ("active", "suspended")
TRANSITIONS: dict[str, frozenset[str]] = {
    "active": frozenset({"suspended", "cancelled", "expired"}),
    "suspended": frozenset({"active", "cancelled", "expired"}),
    "cancelled": frozenset(),
    "expired": frozenset(),
}


class SubscriptionView(View):
    id: uuid.UUID
    user_id: uuid.UUID
    plan_id: uuid.UUID
    plan: str
    status: str
    period_anchor: datetime
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    external_customer_id: str | None
    external_subscription_id: str | None
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SubscriptionCreate(Spec):
    user_id: uuid.UUID
    plan: str = Field(min_length=1, description="plan name or id")
    external_customer_id: str | None = Field(default=None, max_length=200)
    external_subscription_id: str | None = Field(default=None, max_length=200)


class SubscriptionUpdate(Spec):
    status: Literal["active", "suspended", "cancelled"] | None = Field(
        default=None, description="suspend, resume (active) or cancel at once"
    )
    cancel_at_period_end: bool | None = None
    plan: str | None = Field(default=None, min_length=1, description="from the next period")
    external_customer_id: str | None = Field(default=None, max_length=200)
    external_subscription_id: str | None = Field(default=None, max_length=200)

    not_null = frozenset({"status", "cancel_at_period_end", "plan"})


def period_index(anchor: datetime, start: datetime) -> int:
    """Which period (0, 1, ...) after ``anchor`` begins at ``start``."""
    return (start.year - anchor.year) * 12 + start.month - anchor.month


def add_months(start: datetime, months: int) -> datetime:
    """The same day and time ``months`` later, clamped to the month's last day."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


async def view(tx: Tx, sub: Subscription) -> SubscriptionView:
    plan = await plans.find(tx, sub.plan_id)
    return SubscriptionView.model_validate({**_columns(sub), "plan": plan.name})


def snapshot(sub: Subscription) -> dict[str, object]:
    return {
        k: v if not isinstance(v, datetime | uuid.UUID) else str(v)
        for k, v in _columns(sub).items()
    }


def _columns(sub: Subscription) -> dict[str, object]:
    return {c: getattr(sub, c) for c in Subscription.__table__.columns.keys()}  # noqa: SIM118


class Subscriptions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(
        self,
        actor: Actor,
        page: PageRequest,
        *,
        user_id: uuid.UUID | None = None,
        status: Status | None = None,
        plan_id: uuid.UUID | None = None,
    ) -> Page[SubscriptionView]:
        user = user_id if actor.is_admin else actor.user_id
        async with self.db.read(actor) as tx:
            query = select(Subscription)
            if user is not None or not actor.is_admin:
                query = query.where(Subscription.user_id == user)
            if status is not None:
                query = query.where(Subscription.status == status)
            if plan_id is not None:
                query = query.where(Subscription.plan_id == plan_id)
            total = await tx.session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await tx.session.scalars(
                query.order_by(Subscription.created_at.desc(), Subscription.id)
                .limit(page.limit)
                .offset(page.offset)
            )
            found = rows.all()
            # the page's plans in one query; held here (the session's identity map holds
            # them weakly) so that view() finds each in the session
            plan_ids = {s.plan_id for s in found}
            held = (
                (await tx.session.scalars(select(Plan).where(Plan.id.in_(plan_ids)))).all()
                if plan_ids
                else []
            )
            items = [await view(tx, s) for s in found]
            del held
        return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)

    async def get(self, actor: Actor, sub_id: uuid.UUID | str) -> SubscriptionView:
        async with self.db.read(actor) as tx:
            return await view(tx, await _load(tx, actor, sub_id))

    async def create(self, actor: Actor, spec: SubscriptionCreate) -> SubscriptionView:
        actor.require_admin("create subscriptions")
        async with self.db.write(actor) as tx:
            user = await tx.session.get(User, spec.user_id)
            if user is None or user.deleted_at is not None:
                raise not_found("user", spec.user_id)
            plan = await plans.find(tx, spec.plan)
            if not plan.active:
                raise Conflict(f"plan {plan.name!r} is retired", code="PLAN_INACTIVE")
            await ledger.lock_user(tx.session, user.id)
            current = await tx.session.scalar(
                select(Subscription.id).where(
                    Subscription.user_id == user.id, Subscription.status.in_(CURRENT)
                )
            )
            if current is not None:
                raise Conflict(
                    f"user {user.id} already has a current subscription ({current}); cancel "
                    "it first",
                    code="SUBSCRIPTION_EXISTS",
                    details={"subscription_id": str(current)},
                )
            sub = Subscription(
                id=uuid.uuid4(),
                user_id=user.id,
                plan_id=plan.id,
                status="active",
                period_anchor=tx.now,
                current_period_start=tx.now,
                current_period_end=add_months(tx.now, 1),
                cancel_at_period_end=False,
                external_customer_id=spec.external_customer_id,
                external_subscription_id=spec.external_subscription_id,
                created_at=tx.now,
                updated_at=tx.now,
            )
            tx.session.add(sub)
            await tx.session.flush()
            await tx.record("subscription.create", "subscription", sub.id, after=snapshot(sub))
            await grant_period(tx, sub, plan.monthly_credits)
            return await view(tx, sub)

    async def update(
        self, actor: Actor, sub_id: uuid.UUID | str, spec: SubscriptionUpdate
    ) -> SubscriptionView:
        actor.require_admin("change subscriptions")
        changes = spec.model_dump(exclude_unset=True)
        async with self.db.write(actor) as tx:
            sub = await _load(tx, actor, sub_id)
            before = snapshot(sub)
            status = changes.pop("status", None)
            if status is not None and status != sub.status:
                allowed = TRANSITIONS[sub.status]
                if status not in allowed:
                    raise Conflict(
                        f"a subscription that is {sub.status} cannot become {status}"
                        + (f"; it may become {', '.join(sorted(allowed))}" if allowed else ""),
                        code="INVALID_TRANSITION",
                        details={"from": sub.status, "to": status, "allowed": sorted(allowed)},
                    )
                sub.status = status
                if status == "cancelled":
                    sub.ended_at = tx.now
            elif sub.status not in CURRENT and changes:
                raise Conflict(
                    f"subscription {sub.id} has ended ({sub.status}) and cannot change",
                    code="SUBSCRIPTION_ENDED",
                )
            plan_ref = changes.pop("plan", None)
            if plan_ref is not None:
                plan = await plans.find(tx, plan_ref)
                if not plan.active:
                    raise Conflict(f"plan {plan.name!r} is retired", code="PLAN_INACTIVE")
                sub.plan_id = plan.id
            for name, value in changes.items():
                if value is not None or name.startswith("external_"):
                    setattr(sub, name, value)
            if snapshot(sub) == before:
                return await view(tx, sub)  # nothing changed: no event, no new timestamp
            sub.updated_at = tx.now
            await tx.session.flush()
            action = f"subscription.{status}" if status and status != before["status"] else None
            await tx.record(
                action or "subscription.update",
                "subscription",
                sub.id,
                before=before,
                after=snapshot(sub),
            )
            return await view(tx, sub)


async def grant_period(tx: Tx, sub: Subscription, amount: Decimal) -> None:
    """The plan's credits for the subscription's current period, once (by ``ref``)."""
    if amount <= 0:
        return
    ref = f"plan:{sub.id}:{sub.current_period_start.isoformat()}"
    if await tx.session.scalar(select(CreditGrant.id).where(CreditGrant.ref == ref)):
        return  # granted already: renewals are idempotent
    grant = await ledger.add_grant(
        tx.session,
        user_id=sub.user_id,
        amount=amount,
        source="plan",
        now=tx.now,
        actor=tx.actor.label,
        expires_at=sub.current_period_end,
        subscription_id=sub.id,
        period_start=sub.current_period_start,
        ref=ref,
        reason="plan credits for the period",
    )
    await tx.record(
        "credits.grant",
        "credit_grant",
        grant.id,
        after={"user_id": str(sub.user_id), "amount": format(amount, "f"), "source": "plan"},
    )


async def _load(tx: Tx, actor: Actor, sub_id: uuid.UUID | str) -> Subscription:
    sid = parse_id(sub_id, "subscription")
    sub = await tx.session.get(Subscription, sid)
    if sub is None or (not actor.is_admin and sub.user_id != actor.user_id):
        raise not_found("subscription", sid)
    return sub
