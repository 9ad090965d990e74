"""``modelyard credits``: a user's balance and ledger, grants and adjustments (audited)."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.billing.credits import Adjustment, Balance, EntryView, GrantCreate
from modelyard.errors import ValidationFailed, check
from modelyard.registry.common import Page, PageRequest
from modelyard.services import Registry

from ._common import ACTOR, JsonFlag, emit, fields, parse_time, run, table
from ._refs import user_id
from ._tables import Col, WideFlag

app = typer.Typer(help="Credits: balances, the ledger, grants and adjustments.")

User = Annotated[str | None, typer.Option(help="Whose: user id or email (required).")]
Target = Annotated[str, typer.Option(help="Whose: user id or email.")]


def _whose(user: str | None) -> str:
    """The CLI acts as the operator, who has no credits of their own: say whose."""
    if not user:
        raise ValidationFailed.at("--user", "is required: give a user id or email")
    return user


def _balance(balance: Balance, as_json: bool, wide: bool = False) -> None:
    def render() -> None:
        fields(balance, title=f"credits of {balance.user_id}", exclude=frozenset({"grants"}))
        table(
            (
                "source",
                Col("granted", right=True),
                Col("left", right=True),
                "expires",
                Col("granted at", drop=1),
                Col("grant id", drop=2),
            ),
            (
                (g.source, g.amount, g.left, g.expires_at, g.created_at, g.id)
                for g in balance.grants
            ),
            title="live grants, used first to last",
            wide=wide,
        )

    emit(balance, as_json, render)


@app.command()
def balance(user: User = None, as_json: JsonFlag = False, wide: WideFlag = False) -> None:
    """A user's balance: total, held by calls in flight, available, and live grants."""
    ref = _whose(user)

    async def work(r: Registry) -> Balance:
        return await r.credits.balance(ACTOR, await user_id(r, ref))

    _balance(run(work), as_json, wide)


@app.command()
def ledger(
    user: User = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Newest entries first.")] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """A user's ledger, newest first: every grant, use, adjustment and expiry."""
    ref = _whose(user)

    async def work(r: Registry) -> Page[EntryView]:
        page = PageRequest(limit=limit, offset=offset)
        return await r.credits.ledger(ACTOR, page, await user_id(r, ref))

    page = run(work)
    emit(
        page,
        as_json,
        lambda: table(
            (
                Col("id", right=True),
                "when",
                "kind",
                Col("amount", right=True),
                Col("actor", drop=2, fold=True),
                Col("reason", fold=True),
                Col("request", drop=3),
                Col("grant", drop=4),
            ),
            (
                (e.id, e.occurred_at, e.kind, e.amount, e.actor, e.reason, e.request_id, e.grant_id)
                for e in page.items
            ),
            title=f"{page.total} entries",
            wide=wide,
        ),
    )


@app.command()
def grant(
    user: Target,
    amount: Annotated[str, typer.Option(help="Credits to add (> 0, at most 6 decimals).")],
    source: Annotated[str, typer.Option(help="purchase or adjustment.")] = "purchase",
    expires: Annotated[
        str | None, typer.Option(help="ISO time with zone (default: never).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (kept in the ledger and audit trail).")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Grant credits to a user (a purchase, say); prints the new balance."""
    expires_at = parse_time(expires, "--expires") if expires else None

    async def work(r: Registry) -> Balance:
        spec: GrantCreate = check(
            GrantCreate,
            {
                "user_id": await user_id(r, user),
                "amount": amount,
                "source": source,
                "expires_at": expires_at,
                "reason": reason,
            },
        )
        return await r.credits.grant(ACTOR, spec)

    _balance(run(work), as_json)


@app.command()
def adjust(
    user: Target,
    amount: Annotated[str, typer.Option(help="Signed: 25 adds, -25 takes (write --amount=-25).")],
    reason: Annotated[str, typer.Option(help="Why (required; audited).")],
    as_json: JsonFlag = False,
) -> None:
    """Add or take credits with a reason; prints the new balance."""

    async def work(r: Registry) -> Balance:
        spec: Adjustment = check(
            Adjustment, {"user_id": await user_id(r, user), "amount": amount, "reason": reason}
        )
        return await r.credits.adjust(ACTOR, spec)

    _balance(run(work), as_json)
