"""BillingAccounts: the admins' page of users with balances and current plans in one query,
a user by email, a page's emails in one query, the ledger's running balance; and the
subscriptions list filtered by plan."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import event

from modelyard.billing.credits import Adjustment, GrantCreate
from modelyard.billing.subscriptions import SubscriptionCreate, SubscriptionUpdate
from modelyard.errors import Forbidden, NotFound
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.registry.users import UserCreate
from modelyard.services import Registry


async def _users(registry: Registry, admin: Actor, count: int) -> list[uuid.UUID]:
    made = []
    for i in range(count):
        user = await registry.users.create(admin, UserCreate(email=f"Buyer_{i}@Example.com"))
        made.append(user.id)
    return made


async def test_a_page_of_balances_is_one_query_and_agrees_with_each_balance(
    registry: Registry, admin: Actor
) -> None:
    ids = await _users(registry, admin, 6)
    for i, uid in enumerate(ids):
        await registry.credits.grant(admin, GrantCreate(user_id=uid, amount=Decimal(i) + 1))
    await registry.credits.adjust(
        admin, Adjustment(user_id=ids[0], amount=Decimal("-0.25"), reason="refund")
    )
    await registry.subscriptions.create(admin, SubscriptionCreate(user_id=ids[1], plan="pro"))

    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(registry.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        page = await registry.billing_accounts.list(admin, PageRequest(limit=4), search="buyer_")
    finally:
        event.remove(registry.db.engine.sync_engine, "before_cursor_execute", count)
    assert page.total == 6
    assert [r.email for r in page.items] == [f"Buyer_{i}@Example.com" for i in range(4)]
    assert len([s for s in statements if "credit_ledger" in s]) == 1
    for row in page.items:
        assert row.balance == (await registry.credits.balance(admin, row.user_id)).balance
    assert page.items[0].balance == Decimal("0.75")
    assert (page.items[1].plan, page.items[1].subscription_status) == ("pro", "active")
    assert page.items[0].plan is None


async def test_search_takes_wildcards_literally_and_members_may_not_list(
    registry: Registry, admin: Actor
) -> None:
    ids = await _users(registry, admin, 2)
    await registry.users.create(admin, UserCreate(email="buyerx0@example.com"))
    found = await registry.billing_accounts.list(admin, PageRequest(), search="BUYER_")
    assert {r.user_id for r in found.items} == set(ids)
    assert (await registry.billing_accounts.list(admin, PageRequest(), search="%")).total == 0
    for odd in ("buyer\x00", "\ud800"):
        assert (await registry.billing_accounts.list(admin, PageRequest(), search=odd)).total == 0
    member = Actor(user_id=ids[0], role="member", label="user:m")
    with pytest.raises(Forbidden):
        await registry.billing_accounts.list(member, PageRequest())
    with pytest.raises(Forbidden):
        await registry.users.by_email(member, "buyer_1@example.com")


async def test_a_user_by_email_any_case_and_their_emails_in_one_go(
    registry: Registry, admin: Actor
) -> None:
    ids = await _users(registry, admin, 3)
    assert (await registry.users.by_email(admin, " BUYER_2@example.com ")).id == ids[2]
    for wrong in ("nobody@example.com", "", "x" * 1000, "a\x00@example.com", "\ud800"):
        with pytest.raises(NotFound):
            await registry.users.by_email(admin, wrong)
    emails = await registry.users.emails(admin, [ids[0], ids[1], uuid.uuid4()])
    assert emails == {ids[0]: "Buyer_0@Example.com", ids[1]: "Buyer_1@Example.com"}
    assert await registry.users.emails(admin, []) == {}


async def test_the_running_balance_of_a_ledger_page(registry: Registry, admin: Actor) -> None:
    (uid,) = await _users(registry, admin, 1)
    for amount in ("5", "2.5", "-1"):
        await registry.credits.adjust(
            admin, Adjustment(user_id=uid, amount=Decimal(amount), reason="x")
        )
    ledger = await registry.credits.ledger(admin, PageRequest(limit=10), uid)
    newest, middle, oldest = ledger.items
    accounts = registry.billing_accounts
    assert await accounts.newer_than(admin, uid, newest.id) == 0
    assert await accounts.newer_than(admin, uid, oldest.id) == Decimal("1.5")
    member = Actor(user_id=uid, role="member", label="user:m")
    assert await accounts.newer_than(member, uid, middle.id) == Decimal(-1)
    with pytest.raises(NotFound):
        await accounts.newer_than(member, uuid.uuid4(), middle.id)


async def test_subscriptions_filtered_by_plan(registry: Registry, admin: Actor) -> None:
    ids = await _users(registry, admin, 3)
    pro = await registry.plans.get(admin, "pro")
    free = await registry.plans.get(admin, "free")
    for uid, plan in zip(ids, ("pro", "free", "pro"), strict=True):
        sub = await registry.subscriptions.create(admin, SubscriptionCreate(user_id=uid, plan=plan))
    await registry.subscriptions.update(admin, sub.id, SubscriptionUpdate(status="suspended"))
    on_pro = await registry.subscriptions.list(admin, PageRequest(), plan_id=pro.id)
    assert {s.user_id for s in on_pro.items} == {ids[0], ids[2]}
    on_free = await registry.subscriptions.list(admin, PageRequest(), plan_id=free.id)
    assert [s.user_id for s in on_free.items] == [ids[1]]
    suspended = await registry.subscriptions.list(
        admin, PageRequest(), plan_id=pro.id, status="suspended"
    )
    assert [s.user_id for s in suspended.items] == [ids[2]]
