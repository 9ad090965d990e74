"""Subscriptions (REST /api/v1/subscriptions): ``subscriptions``, ``subscription``,
``createSubscription``, ``updateSubscription`` (suspend, resume, cancel, change plan); each
subscription's ``plan`` comes through one dataloader per request."""

from __future__ import annotations

import datetime
import enum
import uuid

import strawberry
from strawberry.dataloader import DataLoader

from modelyard.api.graphql.areas.billing_plans import Plan
from modelyard.api.graphql.context import Info
from modelyard.api.graphql.inputs import raw
from modelyard.api.graphql.pagination import Connection, from_page, window
from modelyard.billing.plans import PlanView
from modelyard.billing.subscriptions import (
    SubscriptionCreate,
    SubscriptionUpdate,
    SubscriptionView,
)
from modelyard.errors import ValidationFailed, check
from modelyard.registry.common import not_found
from modelyard.registry.scopes import REGISTRY_READ, REGISTRY_WRITE


def user_id_arg(value: strawberry.ID | None) -> uuid.UUID | None:
    """A ``userId`` argument as REST's ``user_id`` query parameter reads it (a 422 naming it
    when it is not a UUID)."""
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationFailed.at("user_id", "is not a valid UUID") from None


@strawberry.enum(description="Where a subscription is in its life.")
class SubscriptionStatus(enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


PlanOrError = PlanView | BaseException


async def _plans(info: Info, ids: list[uuid.UUID]) -> list[PlanOrError]:
    """The plans for a batch of subscriptions, in one service call."""
    actor = info.context.need(REGISTRY_READ)
    found = await info.context.registry.plans.for_ids(actor, ids)
    return [
        plan if plan is not None else not_found("plan", i)
        for plan, i in zip(found, ids, strict=True)
    ]


@strawberry.type(description="Which plan a user is on, for which period, in which state.")
class Subscription:
    id: strawberry.ID
    user_id: strawberry.ID
    plan_id: strawberry.ID
    plan_name: str = strawberry.field(description="the plan's name (REST's `plan`)")
    status: SubscriptionStatus
    period_anchor: datetime.datetime
    current_period_start: datetime.datetime
    current_period_end: datetime.datetime
    cancel_at_period_end: bool
    external_customer_id: str | None
    external_subscription_id: str | None
    ended_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @strawberry.field(description="The plan it is on. Scope registry.read.")
    async def plan(self, info: Info) -> Plan:
        loader: DataLoader[uuid.UUID, PlanOrError] = info.context.loader(
            ("billing_plans",), lambda ids: _plans(info, ids)
        )
        found = await loader.load(uuid.UUID(self.plan_id))
        if isinstance(found, BaseException):  # the loader raises these itself
            raise found
        return Plan.of(found)

    @classmethod
    def of(cls, view: SubscriptionView) -> Subscription:
        return cls(
            id=strawberry.ID(str(view.id)),
            user_id=strawberry.ID(str(view.user_id)),
            plan_id=strawberry.ID(str(view.plan_id)),
            plan_name=view.plan,
            status=SubscriptionStatus(view.status),
            period_anchor=view.period_anchor,
            current_period_start=view.current_period_start,
            current_period_end=view.current_period_end,
            cancel_at_period_end=view.cancel_at_period_end,
            external_customer_id=view.external_customer_id,
            external_subscription_id=view.external_subscription_id,
            ended_at=view.ended_at,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


@strawberry.input(description="Subscribe a user to a plan (REST POST /subscriptions).")
class CreateSubscriptionInput:
    user_id: strawberry.ID
    plan: str = strawberry.field(description="plan name or id")
    external_customer_id: str | None = strawberry.UNSET
    external_subscription_id: str | None = strawberry.UNSET


@strawberry.input(
    description="A subscription's changes (REST PATCH /subscriptions/{id}): `status`"
    " SUSPENDED suspends, ACTIVE resumes, CANCELLED cancels at once;"
    " `cancelAtPeriodEnd`; `plan` from the next period; the external ids."
)
class UpdateSubscriptionInput:
    status: SubscriptionStatus | None = strawberry.UNSET
    cancel_at_period_end: bool | None = strawberry.UNSET
    plan: str | None = strawberry.UNSET
    external_customer_id: str | None = strawberry.UNSET
    external_subscription_id: str | None = strawberry.UNSET


@strawberry.type
class Query:
    @strawberry.field(
        description="Subscriptions, newest first (members: their own, whatever `userId`)."
        " Scope registry.read."
    )
    async def subscriptions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        user_id: strawberry.ID | None = None,
        status: SubscriptionStatus | None = None,
    ) -> Connection[Subscription]:
        actor = info.context.need(REGISTRY_READ)
        at = window(first, after)
        page = await info.context.registry.subscriptions.list(
            actor,
            at.request(),
            user_id=user_id_arg(user_id),
            status=status.value if status is not None else None,
        )
        return from_page(page, at, Subscription.of)

    @strawberry.field(
        description="One subscription (members: only their own). Scope registry.read."
    )
    async def subscription(self, info: Info, id: strawberry.ID) -> Subscription:
        actor = info.context.need(REGISTRY_READ)
        return Subscription.of(await info.context.registry.subscriptions.get(actor, str(id)))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Subscribe a user to a plan (admins); grants the first period's credits."
        " Scope registry.write."
    )
    async def create_subscription(self, info: Info, input: CreateSubscriptionInput) -> Subscription:
        actor = info.context.need(REGISTRY_WRITE)
        spec = check(SubscriptionCreate, raw(input))
        return Subscription.of(await info.context.registry.subscriptions.create(actor, spec))

    @strawberry.mutation(
        description="Suspend, resume or cancel a subscription, or change its plan or ids"
        " (admins). Scope registry.write."
    )
    async def update_subscription(
        self, info: Info, id: strawberry.ID, input: UpdateSubscriptionInput
    ) -> Subscription:
        actor = info.context.need(REGISTRY_WRITE)
        spec = check(SubscriptionUpdate, raw(input))
        changed = await info.context.registry.subscriptions.update(actor, str(id), spec)
        return Subscription.of(changed)
