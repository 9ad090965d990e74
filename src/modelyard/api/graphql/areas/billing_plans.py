"""Plans (REST /api/v1/plans): ``plans``, ``plan``, ``createPlan``, ``updatePlan``."""

from __future__ import annotations

import datetime
import enum

import strawberry

from modelyard.api.graphql.context import Info
from modelyard.api.graphql.inputs import raw
from modelyard.api.graphql.scalars import BigInt, Decimal
from modelyard.billing.plans import PlanCreate, PlanUpdate, PlanView
from modelyard.errors import check
from modelyard.registry.scopes import REGISTRY_READ, REGISTRY_WRITE


@strawberry.enum(description="What is left of a period's plan credits at its end.")
class Rollover(enum.Enum):
    NONE = "none"
    CAPPED = "capped"
    FULL = "full"


@strawberry.type(description="What a subscription buys: monthly credits, rollover and limits.")
class Plan:
    id: strawberry.ID
    name: str
    display_name: str
    monthly_credits: Decimal
    rollover: Rollover
    rollover_cap: Decimal | None
    rpm_limit: BigInt | None
    tpm_limit: BigInt | None
    max_parallel: int | None
    allowed_models: list[str] | None = strawberry.field(
        description="model names, aliases or provider/model; null: any"
    )
    allowed_capabilities: list[str] | None = strawberry.field(
        description="capabilities a call may need; null: any"
    )
    active: bool = strawberry.field(description="false: retired (admins still see it)")
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def of(cls, view: PlanView) -> Plan:
        return cls(
            id=strawberry.ID(str(view.id)),
            name=view.name,
            display_name=view.display_name,
            monthly_credits=Decimal(view.monthly_credits),
            rollover=Rollover(view.rollover),
            rollover_cap=Decimal(view.rollover_cap) if view.rollover_cap is not None else None,
            rpm_limit=BigInt(view.rpm_limit) if view.rpm_limit is not None else None,
            tpm_limit=BigInt(view.tpm_limit) if view.tpm_limit is not None else None,
            max_parallel=view.max_parallel,
            allowed_models=view.allowed_models,
            allowed_capabilities=view.allowed_capabilities,
            active=view.active,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


@strawberry.input(description="A new plan (REST POST /plans).")
class CreatePlanInput:
    name: str
    monthly_credits: Decimal
    display_name: str | None = strawberry.UNSET
    rollover: Rollover | None = strawberry.UNSET
    rollover_cap: Decimal | None = strawberry.UNSET
    rpm_limit: BigInt | None = strawberry.UNSET
    tpm_limit: BigInt | None = strawberry.UNSET
    max_parallel: BigInt | None = strawberry.UNSET
    allowed_models: list[str] | None = strawberry.UNSET
    allowed_capabilities: list[str] | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.input(
    description="A plan's changes (REST PATCH /plans/{plan}); fields left out stay as they"
    " are, `active: false` retires the plan."
)
class UpdatePlanInput:
    display_name: str | None = strawberry.UNSET
    monthly_credits: Decimal | None = strawberry.UNSET
    rollover: Rollover | None = strawberry.UNSET
    rollover_cap: Decimal | None = strawberry.UNSET
    rpm_limit: BigInt | None = strawberry.UNSET
    tpm_limit: BigInt | None = strawberry.UNSET
    max_parallel: BigInt | None = strawberry.UNSET
    allowed_models: list[str] | None = strawberry.UNSET
    allowed_capabilities: list[str] | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.type
class Query:
    @strawberry.field(
        description="Active plans, fewest credits first (admins: `includeInactive` for"
        " retired ones too). Scope registry.read."
    )
    async def plans(self, info: Info, include_inactive: bool = False) -> list[Plan]:
        actor = info.context.need(REGISTRY_READ)
        found = await info.context.registry.plans.list(actor, include_inactive=include_inactive)
        return [Plan.of(p) for p in found]

    @strawberry.field(description="One plan, by name (e.g. `pro`) or id. Scope registry.read.")
    async def plan(self, info: Info, ref: str) -> Plan:
        actor = info.context.need(REGISTRY_READ)
        return Plan.of(await info.context.registry.plans.get(actor, ref))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a plan (admins). Scope registry.write.")
    async def create_plan(self, info: Info, input: CreatePlanInput) -> Plan:
        actor = info.context.need(REGISTRY_WRITE)
        spec = check(PlanCreate, raw(input))
        return Plan.of(await info.context.registry.plans.create(actor, spec))

    @strawberry.mutation(
        description="Change a plan, by name or id (admins); `active: false` retires it."
        " Scope registry.write."
    )
    async def update_plan(self, info: Info, ref: str, input: UpdatePlanInput) -> Plan:
        actor = info.context.need(REGISTRY_WRITE)
        spec = check(PlanUpdate, raw(input))
        return Plan.of(await info.context.registry.plans.update(actor, ref, spec))
