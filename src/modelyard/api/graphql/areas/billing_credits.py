"""Credits (REST /api/v1/credits): ``creditBalance``, ``creditLedger``, ``grantCredits``,
``adjustCredits``. Members read their own (whatever ``userId`` they give, as REST); amounts
are exact decimal strings."""

from __future__ import annotations

import datetime
import enum

import strawberry

from modelyard.api.graphql.areas.billing_subscriptions import user_id_arg
from modelyard.api.graphql.context import Info
from modelyard.api.graphql.inputs import raw
from modelyard.api.graphql.pagination import Connection, from_page, window
from modelyard.api.graphql.scalars import Decimal
from modelyard.billing.credits import Adjustment, Balance, EntryView, GrantCreate, GrantLeft
from modelyard.errors import check
from modelyard.registry.scopes import CREDITS_READ, REGISTRY_WRITE


@strawberry.enum(description="Where a grant of credits came from.")
class CreditSource(enum.Enum):
    PLAN = "plan"
    PURCHASE = "purchase"
    ADJUSTMENT = "adjustment"
    ROLLOVER = "rollover"


@strawberry.enum(description="What a ledger entry records.")
class CreditEntryKind(enum.Enum):
    GRANT = "grant"
    USAGE = "usage"
    EXPIRY = "expiry"
    ADJUSTMENT = "adjustment"


@strawberry.type(description="A live grant and what is left of it.")
class CreditGrant:
    id: strawberry.ID
    source: CreditSource
    amount: Decimal
    left: Decimal
    expires_at: datetime.datetime | None
    created_at: datetime.datetime

    @classmethod
    def of(cls, view: GrantLeft) -> CreditGrant:
        return cls(
            id=strawberry.ID(str(view.id)),
            source=CreditSource(view.source),
            amount=Decimal(view.amount),
            left=Decimal(view.left),
            expires_at=view.expires_at,
            created_at=view.created_at,
        )


@strawberry.type(description="A user's credits: total, held by calls in flight, available.")
class CreditBalance:
    user_id: strawberry.ID
    balance: Decimal = strawberry.field(description="the sum of the user's ledger")
    held: Decimal = strawberry.field(description="set aside by gateways for calls in flight")
    expired: Decimal = strawberry.field(description="left on expired grants, written off shortly")
    available: Decimal = strawberry.field(description="what new calls may use")
    grants: list[CreditGrant]

    @classmethod
    def of(cls, view: Balance) -> CreditBalance:
        return cls(
            user_id=strawberry.ID(str(view.user_id)),
            balance=Decimal(view.balance),
            held=Decimal(view.held),
            expired=Decimal(view.expired),
            available=Decimal(view.available),
            grants=[CreditGrant.of(g) for g in view.grants],
        )


@strawberry.type(description="One ledger row; a user's rows sum to their balance.")
class CreditLedgerEntry:
    id: strawberry.ID
    user_id: strawberry.ID
    occurred_at: datetime.datetime
    kind: CreditEntryKind
    amount: Decimal
    grant_id: strawberry.ID | None
    request_id: str | None
    actor: str
    reason: str

    @classmethod
    def of(cls, view: EntryView) -> CreditLedgerEntry:
        return cls(
            id=strawberry.ID(str(view.id)),
            user_id=strawberry.ID(str(view.user_id)),
            occurred_at=view.occurred_at,
            kind=CreditEntryKind(view.kind),
            amount=Decimal(view.amount),
            grant_id=strawberry.ID(str(view.grant_id)) if view.grant_id else None,
            request_id=view.request_id,
            actor=view.actor,
            reason=view.reason,
        )


@strawberry.input(description="Credits to grant (REST POST /credits/grants).")
class GrantCreditsInput:
    user_id: strawberry.ID
    amount: Decimal = strawberry.field(description="> 0, at most 1e12, 6 decimal places")
    source: CreditSource | None = strawberry.field(
        default=strawberry.UNSET, description="PURCHASE (default) or ADJUSTMENT"
    )
    expires_at: datetime.datetime | None = strawberry.UNSET
    reason: str | None = strawberry.UNSET


@strawberry.input(description="Credits to add or take (REST POST /credits/adjustments).")
class AdjustCreditsInput:
    user_id: strawberry.ID
    amount: Decimal = strawberry.field(description="> 0 adds, < 0 takes; 6 decimal places")
    reason: str


@strawberry.type
class Query:
    @strawberry.field(
        description="A balance: total, held, available and live grants (admins: anyone's"
        " by `userId`, with registry.read; members: their own). Scope credits.read."
    )
    async def credit_balance(
        self, info: Info, user_id: strawberry.ID | None = None
    ) -> CreditBalance:
        actor = info.context.need(CREDITS_READ)
        found = await info.context.registry.credits.balance(actor, user_id_arg(user_id))
        return CreditBalance.of(found)

    @strawberry.field(
        description="Ledger entries, newest first; they sum to the balance (admins: anyone's"
        " by `userId`, with registry.read; members: their own). Scope credits.read."
    )
    async def credit_ledger(
        self,
        info: Info,
        user_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[CreditLedgerEntry]:
        actor = info.context.need(CREDITS_READ)
        at = window(first, after)
        page = await info.context.registry.credits.ledger(actor, at.request(), user_id_arg(user_id))
        return from_page(page, at, CreditLedgerEntry.of)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Grant credits to a user (admins). Scope registry.write.")
    async def grant_credits(self, info: Info, input: GrantCreditsInput) -> CreditBalance:
        actor = info.context.need(REGISTRY_WRITE)
        spec = check(GrantCreate, raw(input))
        return CreditBalance.of(await info.context.registry.credits.grant(actor, spec))

    @strawberry.mutation(
        description="Add (amount > 0) or take (amount < 0) credits with a reason (admins)."
        " Scope registry.write."
    )
    async def adjust_credits(self, info: Info, input: AdjustCreditsInput) -> CreditBalance:
        actor = info.context.need(REGISTRY_WRITE)
        spec = check(Adjustment, raw(input))
        return CreditBalance.of(await info.context.registry.credits.adjust(actor, spec))
