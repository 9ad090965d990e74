"""Users as billing shows them to admins: a page of users with their balances and current
plans (one query however long the page), a user found by email, the emails of a page of
subscriptions (one query), and the running balance beside a page of the ledger."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, select

from modelyard.billing.subscriptions import CURRENT
from modelyard.db.tables import CreditEntry, Plan, Subscription, User
from modelyard.db.types import canonical
from modelyard.registry.actors import Actor
from modelyard.registry.common import Amount, Page, PageRequest, View, not_found
from modelyard.registry.fields import unstorable
from modelyard.registry.tx import Database

MAX_SEARCH = 320  # an email's longest


class AccountRow(View):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: str
    status: str
    balance: Amount
    plan: str | None  # the current (active or suspended) subscription's plan
    subscription_status: str | None


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class BillingAccounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, actor: Actor, page: PageRequest, *, search: str = "") -> Page[AccountRow]:
        """Users (not deleted) by email, each with the sum of their ledger and their current
        plan, in one query; ``search``: part of the email, any case."""
        actor.require_admin("list balances")
        balance = (
            select(func.sum(CreditEntry.amount))
            .where(CreditEntry.user_id == User.id)
            .scalar_subquery()
        )
        current = (
            select(Subscription.plan_id, Subscription.user_id, Subscription.status)
            .where(Subscription.status.in_(CURRENT))
            .subquery()
        )
        query = select(User.id).where(User.deleted_at.is_(None))
        needle = search.strip().lower()[:MAX_SEARCH]
        if unstorable(needle):  # no email holds it (and PostgreSQL refuses NUL)
            return Page(items=[], total=0, limit=page.limit, offset=page.offset)
        if needle:
            query = query.where(User.email_normalized.like(_like(needle), escape="\\"))
        async with self.db.read(actor) as tx:
            total = await tx.session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await tx.session.execute(
                select(
                    User.id,
                    User.email,
                    User.display_name,
                    User.role,
                    User.status,
                    balance.label("balance"),
                    Plan.name,
                    current.c.status,
                )
                .where(User.id.in_(query.scalar_subquery()))
                .outerjoin(current, current.c.user_id == User.id)
                .outerjoin(Plan, Plan.id == current.c.plan_id)
                .order_by(User.email_normalized, User.id)
                .limit(page.limit)
                .offset(page.offset)
            )
            items = [
                AccountRow(
                    user_id=uid,
                    email=email,
                    display_name=name,
                    role=role,
                    status=status,
                    balance=Decimal(0) if amount is None else canonical(amount),
                    plan=plan,
                    subscription_status=sub_status,
                )
                for uid, email, name, role, status, amount, plan, sub_status in rows.all()
            ]
        return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)

    async def newer_than(self, actor: Actor, user_id: uuid.UUID, entry_id: int) -> Decimal:
        """The sum of the user's ledger entries after ``entry_id``: the balance less it is
        the balance just after that entry (a page of the ledger's running balance). Members
        read only their own."""
        if not actor.is_admin and user_id != actor.user_id:
            raise not_found("user", user_id)
        async with self.db.read(actor) as tx:
            total = await tx.session.scalar(
                select(func.sum(CreditEntry.amount)).where(
                    CreditEntry.user_id == user_id, CreditEntry.id > entry_id
                )
            )
        return canonical(total) if total is not None else Decimal(0)
