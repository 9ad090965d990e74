"""Plans, subscriptions, grants and the credit ledger, on both engines; periods crossed with a
controlled clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError

from modelyard.billing import periods
from modelyard.billing.credits import Adjustment, GrantCreate
from modelyard.billing.plans import PlanCreate, PlanUpdate
from modelyard.billing.subscriptions import SubscriptionCreate, SubscriptionUpdate, add_months
from modelyard.db.tables import CreditEntry, CreditGrant
from modelyard.errors import Conflict, ModelyardError, NotFound, check
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.registry.users import UserCreate
from modelyard.services import Registry

START = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(registry: Registry) -> Clock:
    c = Clock(START)
    registry.db.clock = c
    return c


async def _user(registry: Registry, admin: Actor, email: str = "u@example.com") -> uuid.UUID:
    return (await registry.users.create(admin, UserCreate(email=email))).id


async def _ledger_sum(registry: Registry, user_id: uuid.UUID) -> Decimal:
    async with registry.db.engine.connect() as conn:
        rows = (
            await conn.execute(select(CreditEntry.amount).where(CreditEntry.user_id == user_id))
        ).all()
    return sum((r[0] for r in rows), Decimal(0))


async def test_free_pro_and_enterprise_are_seeded_and_admins_add_plans(
    registry: Registry, admin: Actor
) -> None:
    names = [p.name for p in await registry.plans.list(admin)]
    assert names == ["free", "pro", "enterprise"]
    pro = await registry.plans.get(admin, "pro")
    assert (pro.monthly_credits, pro.rollover, pro.rollover_cap) == (
        Decimal(10000),
        "capped",
        Decimal(5000),
    )
    team = await registry.plans.create(
        admin,
        PlanCreate(name="team", monthly_credits=Decimal("2500.5"), allowed_models=["gpt-4o"]),
    )
    assert team.display_name == "team"
    retired = await registry.plans.update(admin, team.id, PlanUpdate(active=False))
    assert retired.active is False
    assert "team" not in [p.name for p in await registry.plans.list(admin)]
    with pytest.raises(Conflict):
        await registry.plans.create(admin, PlanCreate(name="team", monthly_credits=Decimal(1)))


@pytest.mark.parametrize(
    "raw",
    [
        {"name": "x", "monthly_credits": "-1"},
        {"name": "x", "monthly_credits": "1.0000001"},
        {"name": "x", "monthly_credits": "1", "rollover": "capped"},
        {"name": "x", "monthly_credits": "1", "rollover": "none", "rollover_cap": "5"},
        {"name": "Bad Name", "monthly_credits": "1"},
        {"name": "x", "monthly_credits": "1", "rollover": "sometimes"},
    ],
)
async def test_bad_plans_are_refused(raw: dict[str, str]) -> None:
    with pytest.raises(ModelyardError) as info:
        check(PlanCreate, raw)
    assert info.value.status == 422


async def test_a_subscription_grants_the_plan_credits_and_the_ledger_is_the_balance(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    uid = await _user(registry, admin)
    sub = await registry.subscriptions.create(admin, SubscriptionCreate(user_id=uid, plan="pro"))
    assert sub.status == "active"
    assert sub.current_period_end == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)  # clamped
    balance = await registry.credits.balance(admin, uid)
    assert balance.balance == balance.available == Decimal(10000)
    assert [g.source for g in balance.grants] == ["plan"]
    with pytest.raises(Conflict) as twice:
        await registry.subscriptions.create(admin, SubscriptionCreate(user_id=uid, plan="free"))
    assert twice.value.code == "SUBSCRIPTION_EXISTS"

    await registry.credits.grant(
        admin, GrantCreate(user_id=uid, amount=Decimal("12.345678"), reason="bought")
    )
    after = await registry.credits.adjust(
        admin, Adjustment(user_id=uid, amount=Decimal("-0.345678"), reason="goodwill back")
    )
    assert after.balance == Decimal("10012")
    assert await _ledger_sum(registry, uid) == after.balance
    with pytest.raises(Conflict) as over:
        await registry.credits.adjust(
            admin, Adjustment(user_id=uid, amount=Decimal("-20000"), reason="too much")
        )
    assert over.value.code == "INSUFFICIENT_CREDITS"
    assert await _ledger_sum(registry, uid) == Decimal("10012")
    page = await registry.credits.ledger(admin, PageRequest(), uid)
    assert [e.kind for e in page.items] == ["adjustment", "grant", "grant"]
    actions = [e.action for e in (await registry.audit.list(admin, PageRequest(limit=50))).items]
    assert {"subscription.create", "credits.grant", "credits.adjust"} <= set(actions)


@pytest.mark.parametrize(
    "raw",
    [
        {"amount": "-5"},
        {"amount": "0"},
        {"amount": "1.0000001"},
        {"amount": "NaN"},
        {"amount": "5", "expires_at": "2030-01-01T00:00:00"},
        {"amount": "5", "source": "plan"},
    ],
)
async def test_bad_grants_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ModelyardError) as info:
        check(GrantCreate, {"user_id": str(uuid.uuid4()), **raw})
    assert info.value.status == 422


async def test_members_see_only_their_own_and_cannot_change_anything(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    uid = await _user(registry, admin)
    other = await _user(registry, admin, "other@example.com")
    sub = await registry.subscriptions.create(admin, SubscriptionCreate(user_id=other, plan="free"))
    member = Actor(user_id=uid, role="member", label="u@example.com")
    with pytest.raises(NotFound):
        await registry.subscriptions.get(member, sub.id)
    assert (await registry.subscriptions.list(member, PageRequest())).total == 0
    assert (await registry.credits.balance(member, other)).user_id == uid  # their own
    with pytest.raises(ModelyardError) as denied:
        await registry.credits.adjust(
            member, Adjustment(user_id=uid, amount=Decimal(5), reason="x")
        )
    assert denied.value.status == 403


async def test_only_allowed_transitions_and_a_refused_one_changes_nothing(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    uid = await _user(registry, admin)
    sub = await registry.subscriptions.create(admin, SubscriptionCreate(user_id=uid, plan="free"))
    suspended = await registry.subscriptions.update(
        admin, sub.id, SubscriptionUpdate(status="suspended")
    )
    assert suspended.status == "suspended"
    resumed = await registry.subscriptions.update(
        admin, sub.id, SubscriptionUpdate(status="active")
    )
    cancelled = await registry.subscriptions.update(
        admin, resumed.id, SubscriptionUpdate(status="cancelled")
    )
    assert cancelled.ended_at == START
    with pytest.raises(Conflict) as illegal:
        await registry.subscriptions.update(admin, sub.id, SubscriptionUpdate(status="active"))
    assert illegal.value.code == "INVALID_TRANSITION"
    assert illegal.value.details == {"from": "cancelled", "to": "active", "allowed": []}
    assert (await registry.subscriptions.get(admin, sub.id)).status == "cancelled"
    again = await registry.subscriptions.create(admin, SubscriptionCreate(user_id=uid, plan="pro"))
    assert again.plan == "pro"  # a cancelled subscription no longer counts as current


@pytest.mark.parametrize(
    ("rollover", "cap", "used", "carried"),
    [("none", None, "30", "0"), ("capped", "50", "30", "50"), ("full", None, "30", "70")],
)
async def test_renewal_rolls_over_per_plan_and_running_it_twice_grants_once(
    registry: Registry,
    admin: Actor,
    clock: Clock,
    rollover: str,
    cap: str | None,
    used: str,
    carried: str,
) -> None:
    spec = {"name": "p", "monthly_credits": "100", "rollover": rollover, "rollover_cap": cap}
    await registry.plans.create(admin, check(PlanCreate, spec))
    uid = await _user(registry, admin)
    sub = await registry.subscriptions.create(admin, SubscriptionCreate(user_id=uid, plan="p"))
    await registry.credits.adjust(
        admin, Adjustment(user_id=uid, amount=-Decimal(used), reason="usage stand-in")
    )
    assert (await periods.run_due(registry.db)).changed is False  # nothing due yet
    clock.now = sub.current_period_end + timedelta(minutes=1)
    first = await periods.run_due(registry.db)
    second = await periods.run_due(registry.db)
    assert first.renewed == [str(sub.id)]
    assert second.renewed == []
    assert second.grants_expired == 0
    renewed = await registry.subscriptions.get(admin, sub.id)
    assert renewed.current_period_start == sub.current_period_end
    assert renewed.current_period_end == add_months(START, 2)
    balance = await registry.credits.balance(admin, uid)
    assert balance.balance == Decimal(100) + Decimal(carried)
    assert balance.expired == 0
    assert await _ledger_sum(registry, uid) == balance.balance
    async with registry.db.engine.connect() as conn:
        plan_grants = await conn.scalar(
            select(func.count()).where(CreditGrant.user_id == uid, CreditGrant.source == "plan")
        )
    assert plan_grants == 2


async def test_a_long_outage_renews_into_the_current_period_once(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    uid = await _user(registry, admin)
    sub = await registry.subscriptions.create(admin, SubscriptionCreate(user_id=uid, plan="free"))
    clock.now = add_months(START, 3) + timedelta(days=2)
    report = await periods.run_due(registry.db)
    assert report.renewed == [str(sub.id)]
    renewed = await registry.subscriptions.get(admin, sub.id)
    assert renewed.current_period_start == add_months(START, 3)
    balance = await registry.credits.balance(admin, uid)
    assert balance.balance == Decimal(100)  # the free plan's credits, once; nothing rolled


@pytest.fixture
async def full(registry: Registry, admin: Actor) -> None:
    await registry.plans.create(
        admin, PlanCreate(name="full", monthly_credits=Decimal(100), rollover="full")
    )


@pytest.mark.usefixtures("full")
async def test_cancel_at_period_end_and_suspended_subscriptions_end_at_the_boundary(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    a = await _user(registry, admin, "a@example.com")
    b = await _user(registry, admin, "b@example.com")
    sub_a = await registry.subscriptions.create(admin, SubscriptionCreate(user_id=a, plan="full"))
    sub_b = await registry.subscriptions.create(admin, SubscriptionCreate(user_id=b, plan="full"))
    await registry.subscriptions.update(
        admin, sub_a.id, SubscriptionUpdate(cancel_at_period_end=True)
    )
    await registry.subscriptions.update(admin, sub_b.id, SubscriptionUpdate(status="suspended"))
    clock.now = sub_a.current_period_end
    report = await periods.run_due(registry.db)
    assert report.cancelled == [str(sub_a.id)]
    assert report.expired == [str(sub_b.id)]
    assert (await registry.subscriptions.get(admin, sub_a.id)).status == "cancelled"
    assert (await registry.subscriptions.get(admin, sub_b.id)).status == "expired"
    # Their plan credits expired with the period and were written off.
    for uid in (a, b):
        balance = await registry.credits.balance(admin, uid)
        assert balance.balance == 0
        assert await _ledger_sum(registry, uid) == 0


async def test_expired_grants_are_written_off_but_never_what_gateways_hold(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    from modelyard.db.tables import CreditHold

    uid = await _user(registry, admin)
    expires = START + timedelta(days=1)
    await registry.credits.grant(
        admin, GrantCreate(user_id=uid, amount=Decimal(60), expires_at=expires)
    )
    await registry.credits.grant(admin, GrantCreate(user_id=uid, amount=Decimal(40)))
    async with registry.db.engine.begin() as conn:
        await conn.execute(
            insert(CreditHold).values(
                user_id=uid,
                holder="replica-1",
                amount=Decimal(50),
                expires_at=expires + timedelta(hours=1),
            )
        )
    clock.now = expires
    report = await periods.run_due(registry.db)
    assert report.written_off == Decimal(50)  # 10 of the 60 still back the hold
    balance = await registry.credits.balance(admin, uid)
    assert (balance.balance, balance.held, balance.expired) == (
        Decimal(50),
        Decimal(50),
        Decimal(10),
    )
    assert balance.available == 0
    clock.now = expires + timedelta(hours=2)  # the hold lapsed
    report = await periods.run_due(registry.db)
    assert (report.written_off, report.holds_dropped) == (Decimal(10), 1)
    assert (await registry.credits.balance(admin, uid)).available == Decimal(40)


async def test_the_ledger_is_append_only(registry: Registry, admin: Actor, clock: Clock) -> None:
    uid = await _user(registry, admin)
    await registry.credits.grant(admin, GrantCreate(user_id=uid, amount=Decimal(5)))
    for statement in ("UPDATE credit_ledger SET amount = 0", "DELETE FROM credit_ledger"):
        with pytest.raises(DBAPIError):
            async with registry.db.engine.begin() as conn:
                await conn.execute(text(statement))
    assert await _ledger_sum(registry, uid) == Decimal(5)


async def test_no_op_updates_write_nothing_and_deleted_users_get_no_credits(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    uid = await _user(registry, admin)
    sub = await registry.subscriptions.create(admin, SubscriptionCreate(user_id=uid, plan="free"))
    before = (await registry.audit.list(admin, PageRequest(limit=500))).total
    same = await registry.subscriptions.update(admin, sub.id, SubscriptionUpdate(status="active"))
    assert same.updated_at == sub.updated_at
    assert (await registry.audit.list(admin, PageRequest(limit=500))).total == before
    await registry.users.delete(admin, uid)
    with pytest.raises(NotFound):
        await registry.credits.grant(admin, GrantCreate(user_id=uid, amount=Decimal(5)))
    with pytest.raises(NotFound):
        await registry.credits.adjust(admin, Adjustment(user_id=uid, amount=Decimal(5), reason="x"))
    assert await _ledger_sum(registry, uid) == Decimal(100)  # the plan grant, nothing more


async def test_a_renewal_an_admin_asks_for_is_audited_as_theirs(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    uid = await _user(registry, admin)
    sub = await registry.subscriptions.create(admin, SubscriptionCreate(user_id=uid, plan="free"))
    clock.now = sub.current_period_end
    await periods.run_due(registry.db, admin)
    events = (await registry.audit.list(admin, PageRequest(limit=5))).items
    renewal = next(e for e in events if e.action == "subscription.renew")
    assert renewal.actor_label == admin.label
