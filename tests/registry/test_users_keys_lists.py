"""The console's lists: users searched by email and filtered by role and status, and pages
of API keys (everyone's for an admin, by owner; a member's own only)."""

from __future__ import annotations

import uuid

from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.common import Page, PageRequest
from modelyard.registry.users import UserCreate, UserUpdate, UserView
from modelyard.services import Registry
from tests.registry.helpers import ALL, fails, member


async def test_users_are_searched_by_email_and_filtered(registry: Registry, admin: Actor) -> None:
    alice = await registry.users.create(admin, UserCreate(email="Alice@Example.com"))
    await registry.users.create(admin, UserCreate(email="bob@example.com", role="admin"))
    await registry.users.create(admin, UserCreate(email="under_score@example.org"))
    await registry.users.update(admin, alice.id, UserUpdate(status="suspended"))

    def emails(page: Page[UserView]) -> list[str]:
        return [u.email for u in page.items]

    assert emails(await registry.users.list(admin, ALL, email="ALICE")) == ["Alice@Example.com"]
    assert emails(await registry.users.list(admin, ALL, email="example.org")) == [
        "under_score@example.org"
    ]
    # A LIKE wildcard in the search is a plain character.
    assert emails(await registry.users.list(admin, ALL, email="e_s")) == []
    assert emails(await registry.users.list(admin, ALL, email="%")) == []
    assert emails(await registry.users.list(admin, ALL, email="a\x00")) == []
    suspended = await registry.users.list(admin, ALL, status="suspended")
    assert emails(suspended) == ["Alice@Example.com"]
    admins = await registry.users.list(admin, ALL, role="admin", email="BOB")
    assert emails(admins) == ["bob@example.com"]
    small = await registry.users.list(admin, PageRequest(limit=1), role="member")
    assert small.total == 2
    assert len(small.items) == 1


async def test_key_pages_show_an_admin_everyone_and_a_member_their_own(
    registry: Registry, admin: Actor
) -> None:
    alice = await member(registry, admin, "alice")
    bob = await member(registry, admin, "bob")
    assert alice.user_id is not None
    assert bob.user_id is not None
    made = await registry.keys.create(alice, ApiKeyCreate(name="second"))
    await registry.keys.revoke(alice, made.api_key.id)

    everyone = await registry.keys.page(admin, ALL)
    owners = {k.owner_email for k in everyone.items}
    assert {"alice@example.com", "bob@example.com"} <= owners
    of_alice = await registry.keys.page(admin, ALL, user_id=str(alice.user_id))
    assert [k.name for k in of_alice.items] == ["second", "alice key"]  # newest first
    live = await registry.keys.page(admin, ALL, user_id=alice.user_id, revoked=False)
    assert [k.name for k in live.items] == ["alice key"]

    own = await registry.keys.page(alice, ALL)
    assert {k.user_id for k in own.items} == {alice.user_id}
    assert own.total == 2
    # Another user's keys, or a garbage id, are simply not found to a member.
    await fails(registry, "USER_NOT_FOUND", registry.keys.page(alice, ALL, user_id=bob.user_id))
    await fails(registry, "USER_NOT_FOUND", registry.keys.page(admin, ALL, user_id="nope"))
    nobody = await registry.keys.page(admin, ALL, user_id=uuid.uuid4())
    assert nobody.total == 0
    first = await registry.keys.page(admin, PageRequest(limit=1, offset=1))
    assert len(first.items) == 1
    assert first.total == everyone.total


async def test_a_user_is_found_by_email_in_any_case(registry: Registry, admin: Actor) -> None:
    made = await registry.users.create(admin, UserCreate(email="Carol@Example.com"))
    assert (await registry.users.by_email(admin, " carol@EXAMPLE.com ")).id == made.id
    for wrong in ("carol@example", "", "x" * 400, "nul\x00@example.com", "%@example.com"):
        await fails(registry, "USER_NOT_FOUND", registry.users.by_email(admin, wrong))
    carol = await member(registry, admin, "carol2")
    await fails(registry, "FORBIDDEN", registry.users.by_email(carol, "carol@example.com"))
