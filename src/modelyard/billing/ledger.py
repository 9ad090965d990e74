"""The credit ledger's rules, inside a caller's transaction: balances, grants, debits, expiry.

A user's balance is the sum of their ledger rows; nothing else stores it. Every grant adds
one ``grant`` row; every debit (a call's usage, an admin's negative adjustment, the expiry of
what is left of a grant) is split over the user's live grants, the one expiring first first,
one row per grant touched, so what is left of each grant is the sum of its rows. Amounts are
:class:`~decimal.Decimal` credits kept as integer micro-credits (``db.types.Credits``).

Mutations on one user's credits are serialised: on PostgreSQL by a transaction-scoped
advisory lock per user (:func:`lock_user`), on SQLite by its single writer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.db.tables import CreditEntry, CreditGrant, CreditHold

CREDIT_LOCK_SPACE = 0x6D79  # "my": the first key of per-user credit advisory locks
ZERO = Decimal(0)


async def lock_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise credit changes of one user across connections (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:user))"),
            {"space": CREDIT_LOCK_SPACE, "user": str(user_id)},
        )


async def balance(session: AsyncSession, user_id: uuid.UUID) -> Decimal:
    total = await session.scalar(
        select(func.sum(CreditEntry.amount)).where(CreditEntry.user_id == user_id)
    )
    return total if total is not None else ZERO


async def held(
    session: AsyncSession, user_id: uuid.UUID, now: datetime, *, besides: str | None = None
) -> Decimal:
    """Credits gateway processes hold for calls in flight (unexpired holds), optionally not
    counting one holder's own."""
    query = select(func.sum(CreditHold.amount)).where(
        CreditHold.user_id == user_id, CreditHold.expires_at > now
    )
    if besides is not None:
        query = query.where(CreditHold.holder != besides)
    total = await session.scalar(query)
    return total if total is not None else ZERO


@dataclass(frozen=True, slots=True)
class Remaining:
    grant: CreditGrant
    left: Decimal


async def remaining(
    session: AsyncSession, user_id: uuid.UUID, now: datetime, *, live: bool = True
) -> list[Remaining]:
    """Grants with credits left, in the order debits consume them: the first to expire
    first (grants that never expire last), then the oldest. ``live``: not yet expired."""
    left = func.sum(CreditEntry.amount).label("left")
    query = (
        select(CreditGrant, left)
        .join(CreditEntry, CreditEntry.grant_id == CreditGrant.id)
        .where(CreditGrant.user_id == user_id)
        .group_by(CreditGrant.id)
        .having(func.sum(CreditEntry.amount) > 0)
        .order_by(CreditGrant.expires_at.is_(None), CreditGrant.expires_at, CreditGrant.created_at)
    )
    if live:
        query = query.where(or_(CreditGrant.expires_at.is_(None), CreditGrant.expires_at > now))
    return [Remaining(grant, amount) for grant, amount in (await session.execute(query)).all()]


async def add_grant(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    amount: Decimal,
    source: str,
    now: datetime,
    actor: str,
    expires_at: datetime | None = None,
    subscription_id: uuid.UUID | None = None,
    period_start: datetime | None = None,
    ref: str | None = None,
    reason: str = "",
) -> CreditGrant:
    grant = CreditGrant(
        id=uuid.uuid4(),
        user_id=user_id,
        subscription_id=subscription_id,
        source=source,
        amount=amount,
        period_start=period_start,
        expires_at=expires_at,
        ref=ref,
        reason=reason,
        created_by=actor,
        created_at=now,
    )
    session.add(grant)
    await session.flush()
    session.add(
        CreditEntry(
            user_id=user_id,
            occurred_at=now,
            kind="grant",
            amount=amount,
            grant_id=grant.id,
            actor=actor,
            reason=reason or source,
        )
    )
    return grant


async def debit(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    amount: Decimal,
    kind: str,
    now: datetime,
    actor: str = "",
    reason: str = "",
    request_id: str | None = None,
) -> list[CreditEntry]:
    """Take ``amount`` (> 0) from the user's live grants, first to expire first, then from
    expired grants not yet written off (calls that were in flight when a grant expired).
    What no grant covers is written without a grant: an overdraft, which the gateway's holds
    keep from happening (see docs/architecture.md)."""
    rows: list[CreditEntry] = []
    left = amount
    live = await remaining(session, user_id, now)
    ids = {p.grant.id for p in live}
    every = await remaining(session, user_id, now, live=False)
    for part in live + [p for p in every if p.grant.id not in ids]:
        if left <= 0:
            break
        take = min(left, part.left)
        rows.append(_entry(user_id, now, kind, -take, part.grant.id, actor, reason, request_id))
        left -= take
    if left > 0:
        rows.append(_entry(user_id, now, kind, -left, None, actor, reason, request_id))
    session.add_all(rows)
    return rows


def write_off(
    session: AsyncSession, part: Remaining, now: datetime, amount: Decimal, reason: str
) -> None:
    """Take ``amount`` of what is left of one grant (expiry, or moving it to a rollover)."""
    session.add(
        _entry(part.grant.user_id, now, "expiry", -amount, part.grant.id, "billing", reason)
    )


async def spendable(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> Decimal:
    """What new calls may use before holds: the balance less what is left on expired
    grants (written off by the next renewal run)."""
    total = await balance(session, user_id)
    live = {p.grant.id for p in await remaining(session, user_id, now)}
    stale = sum(
        (
            p.left
            for p in await remaining(session, user_id, now, live=False)
            if p.grant.id not in live
        ),
        ZERO,
    )
    return total - stale


def _entry(
    user_id: uuid.UUID,
    now: datetime,
    kind: str,
    amount: Decimal,
    grant_id: uuid.UUID | None,
    actor: str,
    reason: str,
    request_id: str | None = None,
) -> CreditEntry:
    return CreditEntry(
        user_id=user_id,
        occurred_at=now,
        kind=kind,
        amount=amount,
        grant_id=grant_id,
        actor=actor,
        reason=reason,
        request_id=request_id,
    )
