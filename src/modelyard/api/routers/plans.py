"""/api/v1/plans: what a subscription buys (monthly credits, rollover, limits, models).
Members see the active plans; admins also retired ones, and create and change plans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from modelyard.api.deps import Reader, RegistryDep, Writer
from modelyard.api.exact import ExactRoute
from modelyard.billing.plans import PlanCreate, PlanUpdate, PlanView

router = APIRouter(prefix="/plans", tags=["billing"], route_class=ExactRoute)

PlanRef = Annotated[str, Path(description="plan name (e.g. `pro`) or id")]


@router.get("", summary="Active plans (admins: ?include_inactive=true for retired ones too)")
async def list_plans(
    registry: RegistryDep,
    actor: Reader,
    include_inactive: Annotated[bool, Query(description="admins only")] = False,
) -> list[PlanView]:
    return await registry.plans.list(actor, include_inactive=include_inactive)


@router.get("/{plan}", summary="One plan, by name or id")
async def get_plan(registry: RegistryDep, actor: Reader, plan: PlanRef) -> PlanView:
    return await registry.plans.get(actor, plan)


@router.post("", status_code=201, summary="Create a plan (admins)")
async def create_plan(
    registry: RegistryDep,
    actor: Writer,
    body: Annotated[
        PlanCreate,
        Body(
            openapi_examples={
                "team": {
                    "value": {
                        "name": "team",
                        "display_name": "Team",
                        "monthly_credits": "25000",
                        "rollover": "capped",
                        "rollover_cap": "10000",
                        "rpm_limit": 300,
                        "allowed_models": ["gpt-4o-mini"],
                    }
                }
            }
        ),
    ],
) -> PlanView:
    return await registry.plans.create(actor, body)


@router.patch("/{plan}", summary="Change a plan (admins); `active: false` retires it")
async def update_plan(
    registry: RegistryDep, actor: Writer, plan: PlanRef, body: PlanUpdate
) -> PlanView:
    return await registry.plans.update(actor, plan, body)
