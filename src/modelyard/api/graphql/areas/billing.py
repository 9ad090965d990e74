"""billing: plans, subscriptions, credits (``areas/billing_*.py``) and ``renewBilling``."""

from __future__ import annotations

import strawberry
from strawberry.tools import merge_types

from modelyard.api.graphql.areas import billing_credits, billing_plans, billing_subscriptions
from modelyard.api.graphql.context import Info
from modelyard.api.graphql.scalars import Decimal
from modelyard.billing import periods
from modelyard.registry.scopes import REGISTRY_WRITE


@strawberry.type(description="What one run of the renewal job did.")
class BillingRenewal:
    renewed: list[strawberry.ID] = strawberry.field(
        description="subscriptions renewed into a new period"
    )
    cancelled: list[strawberry.ID] = strawberry.field(
        description="subscriptions cancelled at their period's end"
    )
    expired: list[strawberry.ID] = strawberry.field(
        description="subscriptions expired (suspended or plan retired)"
    )
    written_off: Decimal = strawberry.field(description="credits left on expired grants")
    grants_expired: int
    holds_dropped: int = strawberry.field(description="lapsed credit holds of gateways removed")

    @classmethod
    def of(cls, view: periods.RenewalView) -> BillingRenewal:
        return cls(
            renewed=[strawberry.ID(i) for i in view.renewed],
            cancelled=[strawberry.ID(i) for i in view.cancelled],
            expired=[strawberry.ID(i) for i in view.expired],
            written_off=Decimal(view.written_off),
            grants_expired=view.grants_expired,
            holds_dropped=view.holds_dropped,
        )


@strawberry.type
class RenewalMutation:
    @strawberry.mutation(
        description="Renew, end and expire what is due, once, now (admins); a second run"
        " grants nothing twice. Scope registry.write."
    )
    async def renew_billing(self, info: Info) -> BillingRenewal:
        actor = info.context.need(REGISTRY_WRITE)
        return BillingRenewal.of(await periods.renew(info.context.registry.db, actor))


Query = merge_types(
    "BillingQuery", (billing_plans.Query, billing_subscriptions.Query, billing_credits.Query)
)
Mutation = merge_types(
    "BillingMutation",
    (
        billing_plans.Mutation,
        billing_subscriptions.Mutation,
        billing_credits.Mutation,
        RenewalMutation,
    ),
)
