"""Plans.for_ids (what GraphQL's subscription -> plan dataloader calls): one query for any
number of ids, in order, with the same visibility as Plans.get except that members also see
a retired plan their own subscription is on."""

from __future__ import annotations

import uuid

from sqlalchemy import event

from modelyard.billing.plans import PlanCreate, PlanUpdate
from modelyard.billing.subscriptions import SubscriptionCreate
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.registry.users import UserCreate
from modelyard.services import Registry


async def test_plans_by_id_in_order_and_as_each_actor_may_see_them(
    registry: Registry, admin: Actor
) -> None:
    old = await registry.plans.create(admin, PlanCreate(name="old", monthly_credits=5))
    gone = await registry.plans.create(admin, PlanCreate(name="gone", monthly_credits=1))
    pro = await registry.plans.get(admin, "pro")
    user = await registry.users.create(admin, UserCreate(email="m@example.com"))
    await registry.subscriptions.create(admin, SubscriptionCreate(user_id=user.id, plan="old"))
    for plan in (old, gone):
        await registry.plans.update(admin, plan.id, PlanUpdate(active=False))
    member = Actor(user_id=user.id, role="member", label="user:m@example.com")
    nobody = uuid.uuid4()
    ids = [gone.id, pro.id, nobody, old.id, pro.id]

    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(registry.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        as_admin = await registry.plans.for_ids(admin, ids)
        admin_statements = len(statements)
        as_member = await registry.plans.for_ids(member, ids)
    finally:
        event.remove(registry.db.engine.sync_engine, "before_cursor_execute", count)
    assert [p.name if p else None for p in as_admin] == ["gone", "pro", None, "old", "pro"]
    # retired "gone" is hidden from the member; retired "old" is their subscription's plan
    assert [p.name if p else None for p in as_member] == [None, "pro", None, "old", "pro"]
    assert len([s for s in statements[:admin_statements] if "plans" in s]) == 1
    assert len([s for s in statements[admin_statements:] if "plans" in s]) == 1
    assert await registry.plans.for_ids(admin, []) == []


async def test_a_page_of_subscriptions_reads_its_plans_in_one_query(
    registry: Registry, admin: Actor
) -> None:
    for i in range(6):
        await registry.plans.create(admin, PlanCreate(name=f"p{i}", monthly_credits=i))
        user = await registry.users.create(admin, UserCreate(email=f"s{i}@example.com"))
        await registry.subscriptions.create(
            admin, SubscriptionCreate(user_id=user.id, plan=f"p{i}")
        )
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(registry.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        page = await registry.subscriptions.list(admin, PageRequest(limit=50))
    finally:
        event.remove(registry.db.engine.sync_engine, "before_cursor_execute", count)
    assert sorted(s.plan for s in page.items) == [f"p{i}" for i in range(6)]
    assert len([s for s in statements if "FROM plans" in s]) == 1
