"""Plans: monthly credits, rollover policy, limits and what models a plan's users may call.
Members see active plans; admins create, change and retire them (a plan is never deleted
while a subscription refers to it; ``active: false`` retires it)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator
from sqlalchemy import or_, select

from modelyard.db.tables import Plan, Subscription
from modelyard.errors import Conflict, NotFound, ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.common import Amount, Spec, View, not_found, parse_id
from modelyard.registry.fields import PositiveInt32
from modelyard.registry.tx import Database, Tx

Rollover = Literal["none", "capped", "full"]
MAX_CREDITS = Decimal("1e12")
CreditAmount = Field(ge=0, le=MAX_CREDITS, decimal_places=6)
NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class PlanView(View):
    id: uuid.UUID
    name: str
    display_name: str
    monthly_credits: Amount
    rollover: str
    rollover_cap: Amount | None
    rpm_limit: int | None
    tpm_limit: int | None
    max_parallel: int | None
    allowed_models: list[str] | None
    allowed_capabilities: list[str] | None
    active: bool
    created_at: datetime
    updated_at: datetime


class _PlanFields(Spec):
    display_name: str | None = Field(default=None, max_length=200)
    rollover_cap: Decimal | None = Field(default=None, ge=0, le=MAX_CREDITS, decimal_places=6)
    rpm_limit: PositiveInt32 | None = None
    tpm_limit: PositiveInt32 | None = None
    max_parallel: int | None = Field(default=None, ge=1, le=10_000)
    allowed_models: list[str] | None = Field(
        default=None, description="model names, aliases or provider/model; null: any"
    )
    allowed_capabilities: list[str] | None = Field(
        default=None, description="capabilities a call may need; null: any"
    )


class PlanCreate(_PlanFields):
    name: str = Field(pattern=NAME)
    monthly_credits: Decimal = CreditAmount
    rollover: Rollover = "none"
    active: bool = True

    @model_validator(mode="after")
    def _cap(self) -> PlanCreate:
        _check_cap(self.rollover, self.rollover_cap)
        return self


class PlanUpdate(_PlanFields):
    monthly_credits: Decimal | None = Field(default=None, ge=0, le=MAX_CREDITS, decimal_places=6)
    rollover: Rollover | None = None
    active: bool | None = None

    not_null = frozenset({"display_name", "monthly_credits", "rollover", "active"})


def _check_cap(rollover: str, cap: Decimal | None) -> None:
    if rollover == "capped" and cap is None:
        raise ValueError("rollover 'capped' needs rollover_cap")
    if rollover != "capped" and cap is not None:
        raise ValueError("rollover_cap applies only to rollover 'capped'")


def snapshot(plan: Plan) -> dict[str, object]:
    return PlanView.model_validate(plan).model_dump(mode="json")


class Plans:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, actor: Actor, *, include_inactive: bool = False) -> list[PlanView]:
        async with self.db.read(actor) as tx:
            query = select(Plan).order_by(Plan.monthly_credits, Plan.name)
            if not (include_inactive and actor.is_admin):
                query = query.where(Plan.active)
            return [PlanView.model_validate(p) for p in await tx.session.scalars(query)]

    async def get(self, actor: Actor, plan: uuid.UUID | str) -> PlanView:
        async with self.db.read(actor) as tx:
            found = await find(tx, plan)
            if not found.active and not actor.is_admin:
                raise not_found("plan", plan)
            return PlanView.model_validate(found)

    async def for_ids(
        self, actor: Actor, ids: Sequence[uuid.UUID]
    ) -> builtins.list[PlanView | None]:
        """The plans with these ids, in the same order, in one query (None where there is
        none the actor may see). Admins see every plan; members the active ones and the
        plans their own subscriptions are on (a retired plan stays a subscription's until
        its period ends)."""
        if not ids:
            return []
        async with self.db.read(actor) as tx:
            query = select(Plan).where(Plan.id.in_(set(ids)))
            if not actor.is_admin:
                theirs = select(Subscription.plan_id).where(Subscription.user_id == actor.user_id)
                query = query.where(or_(Plan.active, Plan.id.in_(theirs)))
            found = {p.id: PlanView.model_validate(p) for p in await tx.session.scalars(query)}
        return [found.get(i) for i in ids]

    async def create(self, actor: Actor, spec: PlanCreate) -> PlanView:
        actor.require_admin("create plans")
        async with self.db.write(actor) as tx:
            if await tx.session.scalar(select(Plan.id).where(Plan.name == spec.name)):
                raise Conflict(f"a plan named {spec.name!r} exists", code="NAME_TAKEN")
            plan = Plan(
                id=uuid.uuid4(),
                **spec.model_dump(exclude={"display_name"}),
                display_name=spec.display_name or spec.name,
                created_at=tx.now,
                updated_at=tx.now,
            )
            tx.session.add(plan)
            await tx.session.flush()
            await tx.record("plan.create", "plan", plan.id, after=snapshot(plan))
            return PlanView.model_validate(plan)

    async def update(self, actor: Actor, plan_ref: uuid.UUID | str, spec: PlanUpdate) -> PlanView:
        actor.require_admin("change plans")
        changes = spec.model_dump(exclude_unset=True)
        async with self.db.write(actor) as tx:
            plan = await find(tx, plan_ref)
            before = snapshot(plan)
            rollover = changes.get("rollover", plan.rollover)
            cap = changes.get("rollover_cap", plan.rollover_cap)
            if "rollover" in changes and rollover != "capped" and "rollover_cap" not in changes:
                cap = None  # leaving 'capped' drops the cap
            try:
                _check_cap(rollover, cap)
            except ValueError as exc:
                raise ValidationFailed.at("rollover_cap", str(exc)) from None
            for name, value in changes.items():
                if value is None and name in {"monthly_credits", "rollover", "active"}:
                    continue
                setattr(plan, name, value)
            plan.rollover_cap = cap
            plan.updated_at = tx.now
            await tx.session.flush()
            await tx.record("plan.update", "plan", plan.id, before=before, after=snapshot(plan))
            return PlanView.model_validate(plan)


async def find(tx: Tx, ref: uuid.UUID | str) -> Plan:
    """A plan by id or by name."""
    plan: Plan | None
    if isinstance(ref, uuid.UUID):
        plan = await tx.session.get(Plan, ref)
    else:
        try:
            plan = await tx.session.get(Plan, parse_id(ref, "plan"))
        except NotFound:
            plan = None
        if plan is None:
            plan = await tx.session.scalar(select(Plan).where(Plan.name == ref))
    if plan is None:
        raise not_found("plan", ref)
    return plan
