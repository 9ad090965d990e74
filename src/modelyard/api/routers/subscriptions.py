"""/api/v1/subscriptions: which plan each user is on, for which period, in which state.
Members see their own; admins see everyone's and create and change them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query

from modelyard.api.deps import Paging, Reader, RegistryDep, Writer
from modelyard.billing.subscriptions import (
    Status,
    SubscriptionCreate,
    SubscriptionUpdate,
    SubscriptionView,
)
from modelyard.registry.common import Page

router = APIRouter(prefix="/subscriptions", tags=["billing"])


@router.get("", summary="Subscriptions, newest first (members: their own)")
async def list_subscriptions(
    registry: RegistryDep,
    actor: Reader,
    page: Paging,
    user_id: Annotated[
        uuid.UUID | None, Query(description="one user's (admins; members always see their own)")
    ] = None,
    status: Annotated[Status | None, Query(description="only in this state")] = None,
) -> Page[SubscriptionView]:
    return await registry.subscriptions.list(actor, page, user_id=user_id, status=status)


@router.get("/{subscription_id}", summary="One subscription (members: only their own)")
async def get_subscription(
    registry: RegistryDep, actor: Reader, subscription_id: str
) -> SubscriptionView:
    return await registry.subscriptions.get(actor, subscription_id)


@router.post(
    "",
    status_code=201,
    summary="Subscribe a user to a plan (admins); grants the first period's credits",
)
async def create_subscription(
    registry: RegistryDep,
    actor: Writer,
    body: Annotated[
        SubscriptionCreate,
        Body(
            openapi_examples={
                "pro": {
                    "value": {
                        "user_id": "00000000-0000-0000-0000-000000000000",
                        "plan": "pro",
                        "external_customer_id": "cus_123",
                    }
                }
            }
        ),
    ],
) -> SubscriptionView:
    return await registry.subscriptions.create(actor, body)


@router.patch(
    "/{subscription_id}",
    summary="Suspend, resume or cancel a subscription, or change its plan or ids (admins)",
)
async def update_subscription(
    registry: RegistryDep,
    actor: Writer,
    subscription_id: str,
    body: Annotated[
        SubscriptionUpdate,
        Body(
            openapi_examples={
                "suspend": {"value": {"status": "suspended"}},
                "resume": {"value": {"status": "active"}},
                "cancel now": {"value": {"status": "cancelled"}},
                "cancel at period end": {"value": {"cancel_at_period_end": True}},
                "change plan": {"value": {"plan": "enterprise"}},
            }
        ),
    ],
) -> SubscriptionView:
    return await registry.subscriptions.update(actor, subscription_id, body)
