"""``modelyard subscriptions``: which plan each user is on, and its state. An active
subscription may be suspended and resumed; either may be cancelled, at once or at the
period's end; cancelled and expired ones are final (see docs/billing.md)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, cast

import typer

from modelyard.billing.subscriptions import (
    CURRENT,
    Status,
    SubscriptionCreate,
    SubscriptionUpdate,
    SubscriptionView,
)
from modelyard.errors import NotFound, ValidationFailed, check
from modelyard.registry.common import Page, PageRequest
from modelyard.services import Registry

from ._common import ACTOR, JsonFlag, emit, fields, run, table
from ._refs import as_uuid, every, user_id
from ._tables import Col, WideFlag

STATUSES = ("active", "suspended", "cancelled", "expired")

app = typer.Typer(help="Subscriptions: subscribe users to plans, suspend, resume, cancel.")

Ref = Annotated[
    str,
    typer.Argument(
        help="Subscription id, or a user's email for their current subscription.",
        show_default=False,
    ),
]
Customer = Annotated[
    str | None, typer.Option(help="External billing customer id (e.g. Stripe's cus_...).")
]
External = Annotated[
    str | None, typer.Option(help="External billing subscription id (e.g. Stripe's sub_...).")
]


def _rows(items: list[SubscriptionView], wide: bool = False) -> None:
    table(
        (
            "user",
            Col("plan", fold=True),
            "status",
            Col("period start", drop=4),
            Col("period end", drop=2),
            Col("cancel at end", drop=3),
            Col("id", drop=5),
        ),
        (
            (
                s.user_id,
                s.plan,
                s.status,
                s.current_period_start,
                s.current_period_end,
                s.cancel_at_period_end,
                s.id,
            )
            for s in items
        ),
        wide=wide,
    )


def _show(sub: SubscriptionView, as_json: bool) -> None:
    emit(sub, as_json, lambda: fields(sub, title=f"subscription {sub.id} ({sub.plan})"))


async def subscription_id(registry: Registry, ref: str) -> uuid.UUID:
    """A subscription by id, or a user's (by email) current one."""
    if "@" not in ref:
        found = as_uuid(ref)
        if found is None:
            raise NotFound(f"subscription {ref!r} not found", code="SUBSCRIPTION_NOT_FOUND")
        return found
    uid = await user_id(registry, ref)
    listing = every(lambda page: registry.subscriptions.list(ACTOR, page, user_id=uid))
    async for sub in listing:
        if sub.status in CURRENT:
            return sub.id
    raise NotFound(
        f"user {ref} has no current subscription; see `modelyard subscriptions list --user {ref}`",
        code="SUBSCRIPTION_NOT_FOUND",
    )


def _change(ref: str, changes: dict[str, Any], as_json: bool) -> None:
    spec: SubscriptionUpdate = check(SubscriptionUpdate, changes)

    async def work(r: Registry) -> SubscriptionView:
        return await r.subscriptions.update(ACTOR, await subscription_id(r, ref), spec)

    _show(run(work), as_json)


@app.command("list")
def list_(
    user: Annotated[str | None, typer.Option(help="Only this user's (id or email).")] = None,
    status: Annotated[
        str | None, typer.Option(help="active, suspended, cancelled or expired.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """List subscriptions, newest first."""
    if status is not None and status not in STATUSES:
        raise ValidationFailed.at("--status", f"is one of {', '.join(STATUSES)}")
    wanted = cast("Status | None", status)

    async def work(r: Registry) -> Page[SubscriptionView]:
        uid = await user_id(r, user) if user else None
        page = PageRequest(limit=limit, offset=offset)
        return await r.subscriptions.list(ACTOR, page, user_id=uid, status=wanted)

    page = run(work)
    emit(page, as_json, lambda: _rows(page.items, wide))


@app.command()
def show(subscription: Ref, as_json: JsonFlag = False) -> None:
    """Show one subscription."""

    async def work(r: Registry) -> SubscriptionView:
        return await r.subscriptions.get(ACTOR, await subscription_id(r, subscription))

    _show(run(work), as_json)


@app.command()
def create(
    user: Annotated[str, typer.Option(help="The subscriber: user id or email.")],
    plan: Annotated[str, typer.Option(help="Plan name or id.")],
    customer_id: Customer = None,
    external_subscription_id: External = None,
    as_json: JsonFlag = False,
) -> None:
    """Subscribe a user to a plan; the first period starts now, with its credits."""

    async def work(r: Registry) -> SubscriptionView:
        spec: SubscriptionCreate = check(
            SubscriptionCreate,
            {
                "user_id": await user_id(r, user),
                "plan": plan,
                "external_customer_id": customer_id,
                "external_subscription_id": external_subscription_id,
            },
        )
        return await r.subscriptions.create(ACTOR, spec)

    _show(run(work), as_json)


@app.command()
def suspend(subscription: Ref, as_json: JsonFlag = False) -> None:
    """Suspend: calls stop; at the period's end it expires unless resumed."""
    _change(subscription, {"status": "suspended"}, as_json)


@app.command()
def resume(subscription: Ref, as_json: JsonFlag = False) -> None:
    """Resume a suspended subscription."""
    _change(subscription, {"status": "active"}, as_json)


@app.command()
def cancel(
    subscription: Ref,
    at_period_end: Annotated[
        bool, typer.Option("--at-period-end", help="Let the current period run out first.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Cancel at once (for good), or with --at-period-end when the current period ends."""
    changes = {"cancel_at_period_end": True} if at_period_end else {"status": "cancelled"}
    _change(subscription, changes, as_json)


@app.command()
def update(
    subscription: Ref,
    plan: Annotated[str | None, typer.Option(help="New plan (name or id).")] = None,
    cancel_at_period_end: Annotated[
        bool | None,
        typer.Option(
            "--cancel-at-period-end/--keep",
            help="End when the current period ends, or keep renewing.",
        ),
    ] = None,
    customer_id: Customer = None,
    external_subscription_id: External = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a subscription's plan, renewal or external ids; only the options given change."""
    given = {
        "plan": plan,
        "cancel_at_period_end": cancel_at_period_end,
        "external_customer_id": customer_id,
        "external_subscription_id": external_subscription_id,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        raise ValidationFailed("nothing to change; give at least one option (see --help)")
    _change(subscription, changes, as_json)
