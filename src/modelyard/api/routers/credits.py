"""/api/v1/credits: balances, the ledger, grants and adjustments. Members see their own;
admins anyone's (``?user_id=``) and change them, each change audited with its reason.
Amounts are decimal strings in responses; requests may give strings or JSON numbers (read
exactly, never through a float)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query

from modelyard.api.deps import CreditsReader, Paging, RegistryDep, Writer
from modelyard.api.exact import ExactRoute
from modelyard.billing.credits import Adjustment, Balance, EntryView, GrantCreate
from modelyard.registry.common import Page

router = APIRouter(prefix="/credits", tags=["billing"], route_class=ExactRoute)

UserId = Annotated[
    uuid.UUID | None, Query(description="whose (admins; members always get their own)")
]
USER = "00000000-0000-0000-0000-000000000000"


@router.get("", summary="A balance: total, held by calls in flight, available, live grants")
async def get_balance(
    registry: RegistryDep, actor: CreditsReader, user_id: UserId = None
) -> Balance:
    return await registry.credits.balance(actor, user_id)


@router.get("/ledger", summary="Ledger entries, newest first; they sum to the balance")
async def get_ledger(
    registry: RegistryDep, actor: CreditsReader, page: Paging, user_id: UserId = None
) -> Page[EntryView]:
    return await registry.credits.ledger(actor, page, user_id)


@router.post("/grants", status_code=201, summary="Grant credits to a user (admins)")
async def create_grant(
    registry: RegistryDep,
    actor: Writer,
    body: Annotated[
        GrantCreate,
        Body(
            openapi_examples={
                "purchase": {
                    "value": {
                        "user_id": USER,
                        "amount": "500",
                        "source": "purchase",
                        "expires_at": "2031-01-01T00:00:00Z",
                        "reason": "invoice 1042",
                    }
                }
            }
        ),
    ],
) -> Balance:
    return await registry.credits.grant(actor, body)


@router.post(
    "/adjustments",
    summary="Add (amount > 0) or take (amount < 0) credits with a reason (admins)",
)
async def create_adjustment(
    registry: RegistryDep,
    actor: Writer,
    body: Annotated[
        Adjustment,
        Body(
            openapi_examples={
                "goodwill": {"value": {"user_id": USER, "amount": "25", "reason": "outage"}},
                "take back": {"value": {"user_id": USER, "amount": "-10", "reason": "refund"}},
            }
        ),
    ],
) -> Balance:
    return await registry.credits.adjust(actor, body)
