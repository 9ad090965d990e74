"""Many users' ledger balances in one query: an admin's view of anyone's, a member's of
their own only; users without a ledger are left out."""

from __future__ import annotations

import uuid
from decimal import Decimal

from modelyard.billing.credits import Adjustment, GrantCreate
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.registry.helpers import member


async def test_balances_of(registry: Registry, admin: Actor) -> None:
    alice = await member(registry, admin, "alice")
    bob = await member(registry, admin, "bob")
    carol = await member(registry, admin, "carol")
    assert alice.user_id is not None
    assert bob.user_id is not None
    assert carol.user_id is not None
    await registry.credits.grant(admin, GrantCreate(user_id=alice.user_id, amount=Decimal("10.5")))
    await registry.credits.grant(admin, GrantCreate(user_id=bob.user_id, amount=Decimal(3)))
    await registry.credits.adjust(
        admin, Adjustment(user_id=bob.user_id, amount=Decimal("-1.25"), reason="test")
    )
    ids = [alice.user_id, bob.user_id, carol.user_id, uuid.uuid4()]
    assert await registry.credits.balances_of(admin, ids) == {
        alice.user_id: Decimal("10.5"),
        bob.user_id: Decimal("1.75"),
    }
    assert await registry.credits.balances_of(alice, ids) == {alice.user_id: Decimal("10.5")}
    assert await registry.credits.balances_of(carol, ids) == {}
    assert await registry.credits.balances_of(admin, []) == {}
