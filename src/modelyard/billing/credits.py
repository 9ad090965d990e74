"""Credits: balances, the ledger, grants and admin adjustments. Members see their own;
admins see anyone's and change them, each change audited with its reason."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field
from sqlalchemy import func, select

from modelyard.billing import ledger
from modelyard.db.tables import CreditEntry, User
from modelyard.db.types import canonical
from modelyard.errors import Conflict, ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.common import Amount, Page, PageRequest, Spec, View, not_found
from modelyard.registry.fields import Instant
from modelyard.registry.scopes import REGISTRY_READ, grants
from modelyard.registry.tx import Database, Tx

MAX_CREDITS = Decimal("1e12")


class GrantLeft(View):
    id: uuid.UUID
    source: str
    amount: Amount
    left: Amount
    expires_at: datetime | None
    created_at: datetime


class Balance(View):
    user_id: uuid.UUID
    balance: Amount = Field(description="the sum of the user's ledger")
    held: Amount = Field(description="set aside by gateways for calls in flight")
    expired: Amount = Field(description="left on expired grants, written off shortly")
    available: Amount = Field(description="what new calls may use")
    grants: list[GrantLeft]


class EntryView(View):
    id: int
    user_id: uuid.UUID
    occurred_at: datetime
    kind: str
    amount: Amount
    grant_id: uuid.UUID | None
    request_id: str | None
    actor: str
    reason: str


class GrantCreate(Spec):
    user_id: uuid.UUID
    amount: Decimal = Field(gt=0, le=MAX_CREDITS, decimal_places=6)
    source: Literal["purchase", "adjustment"] = "purchase"
    expires_at: Instant | None = None
    reason: str = Field(default="", max_length=500)


class Adjustment(Spec):
    user_id: uuid.UUID
    amount: Decimal = Field(
        ge=-MAX_CREDITS, le=MAX_CREDITS, decimal_places=6, description="> 0 adds, < 0 takes"
    )
    reason: str = Field(min_length=1, max_length=500)


class CreditService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def balance(self, actor: Actor, user_id: uuid.UUID | None = None) -> Balance:
        uid = _whose(actor, user_id)
        async with self.db.read(actor) as tx:
            await _user(tx, uid)
            return await balance_of(tx, uid)

    async def balances_of(
        self, actor: Actor, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Decimal]:
        """The ledger balance of each of ``user_ids`` that has one, in one query (a list
        of users with their balances; :meth:`balance` tells one user's holds and expiries
        too). Members get their own only."""
        wanted = set(user_ids)
        if not (actor.is_admin and grants(actor.scopes, REGISTRY_READ)):
            wanted &= {actor.user_id} if actor.user_id is not None else set()
        if not wanted:
            return {}
        query = (
            select(CreditEntry.user_id, func.sum(CreditEntry.amount))
            .where(CreditEntry.user_id.in_(wanted))
            .group_by(CreditEntry.user_id)
        )
        async with self.db.read(actor) as tx:
            rows = (await tx.session.execute(query)).all()
        return {uid: canonical(total) for uid, total in rows if total is not None}

    async def ledger(
        self, actor: Actor, page: PageRequest, user_id: uuid.UUID | None = None
    ) -> Page[EntryView]:
        uid = _whose(actor, user_id)
        async with self.db.read(actor) as tx:
            await _user(tx, uid)
            query = select(CreditEntry).where(CreditEntry.user_id == uid)
            total = await tx.session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await tx.session.scalars(
                query.order_by(CreditEntry.id.desc()).limit(page.limit).offset(page.offset)
            )
            items = [EntryView.model_validate(r) for r in rows]
        return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)

    async def grant(self, actor: Actor, spec: GrantCreate) -> Balance:
        actor.require_admin("grant credits")
        async with self.db.write(actor) as tx:
            await _user(tx, spec.user_id, changing=True)
            if spec.expires_at is not None and spec.expires_at <= tx.now:
                raise ValidationFailed.at("expires_at", "must be in the future")
            await ledger.lock_user(tx.session, spec.user_id)
            grant = await ledger.add_grant(
                tx.session,
                user_id=spec.user_id,
                amount=spec.amount,
                source=spec.source,
                now=tx.now,
                actor=actor.label,
                expires_at=spec.expires_at,
                reason=spec.reason,
            )
            await tx.record(
                "credits.grant",
                "credit_grant",
                grant.id,
                after={
                    "user_id": str(spec.user_id),
                    "amount": format(spec.amount, "f"),
                    "source": spec.source,
                    "expires_at": spec.expires_at.isoformat() if spec.expires_at else None,
                    "reason": spec.reason,
                },
            )
            return await balance_of(tx, spec.user_id)

    async def adjust(self, actor: Actor, spec: Adjustment) -> Balance:
        """Add (a grant of source ``adjustment``) or take credits, with a reason."""
        actor.require_admin("adjust credits")
        if spec.amount == 0:
            raise ValidationFailed.at("amount", "must not be zero")
        async with self.db.write(actor) as tx:
            await _user(tx, spec.user_id, changing=True)
            await ledger.lock_user(tx.session, spec.user_id)
            if spec.amount > 0:
                grant = await ledger.add_grant(
                    tx.session,
                    user_id=spec.user_id,
                    amount=spec.amount,
                    source="adjustment",
                    now=tx.now,
                    actor=actor.label,
                    reason=spec.reason,
                )
                entity: tuple[str, object] = ("credit_grant", grant.id)
            else:
                current = await balance_of(tx, spec.user_id)
                if -spec.amount > current.available:
                    raise Conflict(
                        f"cannot take {format(-spec.amount, 'f')} credits: the user has "
                        f"{format(current.available, 'f')} available",
                        code="INSUFFICIENT_CREDITS",
                        details={"available": format(current.available, "f")},
                    )
                await ledger.debit(
                    tx.session,
                    user_id=spec.user_id,
                    amount=-spec.amount,
                    kind="adjustment",
                    now=tx.now,
                    actor=actor.label,
                    reason=spec.reason,
                )
                entity = ("user", spec.user_id)
            await tx.record(
                "credits.adjust",
                entity[0],
                str(entity[1]),
                after={
                    "user_id": str(spec.user_id),
                    "amount": format(spec.amount, "f"),
                    "reason": spec.reason,
                },
            )
            return await balance_of(tx, spec.user_id)


async def balance_of(tx: Tx, user_id: uuid.UUID) -> Balance:
    await tx.session.flush()
    total = await ledger.balance(tx.session, user_id)
    held = await ledger.held(tx.session, user_id, tx.now)
    live = await ledger.remaining(tx.session, user_id, tx.now)
    every = await ledger.remaining(tx.session, user_id, tx.now, live=False)
    expired = sum((p.left for p in every), Decimal(0)) - sum((p.left for p in live), Decimal(0))
    return Balance(
        user_id=user_id,
        balance=canonical(total),
        held=canonical(held),
        expired=canonical(expired),
        available=canonical(max(Decimal(0), total - expired - held)),
        grants=[
            GrantLeft(
                id=p.grant.id,
                source=p.grant.source,
                amount=p.grant.amount,
                left=p.left,
                expires_at=p.grant.expires_at,
                created_at=p.grant.created_at,
            )
            for p in live
        ],
    )


def _whose(actor: Actor, user_id: uuid.UUID | None) -> uuid.UUID:
    """Whose credits to read: another user's for an admin acting with ``registry.read``
    (credits.read alone is one's own: an app an admin connected reads no one else's)."""
    if actor.is_admin and user_id is not None and user_id != actor.user_id:
        actor.require_scope(REGISTRY_READ)
        return user_id
    if actor.user_id is None:
        raise ValidationFailed.at("user_id", "is required (this actor is not a user)")
    return actor.user_id


async def _user(tx: Tx, uid: uuid.UUID, *, changing: bool = False) -> None:
    user = await tx.session.get(User, uid)
    if user is None or (changing and user.deleted_at is not None):
        raise not_found("user", uid)
