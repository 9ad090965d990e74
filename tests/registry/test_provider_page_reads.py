"""What the console's provider pages read in one query each: each provider's model count
(only the models the reader may see) and the owners' emails (an admin's look-up; a member
learns only their own)."""

from __future__ import annotations

from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry


async def _member(registry: Registry, admin: Actor, email: str) -> Actor:
    user = await registry.users.create(admin, UserCreate(email=email))
    issued = await registry.keys.create(admin, ApiKeyCreate(name="m", user_id=user.id))
    return await registry.keys.authenticate(issued.key)


async def _provider(registry: Registry, actor: Actor, name: str, models: int) -> object:
    made = await registry.providers.create(actor, {"name": name, "kind": "fake"})
    for n in range(models):
        await registry.models.create(
            actor, {"provider_id": made.id, "model_id": f"{name}-{n}", "capabilities": ["text"]}
        )
    return made.id


async def test_model_counts_and_owner_emails(registry: Registry, admin: Actor) -> None:
    member = await _member(registry, admin, "mia@example.com")
    other = await _member(registry, admin, "oz@example.com")
    system = await _provider(registry, admin, "sys", 3)
    own = await _provider(registry, member, "own", 2)
    theirs = await _provider(registry, other, "theirs", 1)
    empty = await _provider(registry, admin, "empty", 0)
    ids = [system, own, theirs, empty]

    assert await registry.models.counts(admin, ids) == {system: 3, own: 2, theirs: 1, empty: 0}
    assert await registry.models.counts(member, ids) == {system: 3, own: 2, theirs: 0, empty: 0}

    owners = [member.user_id, other.user_id]
    assert member.user_id is not None
    assert other.user_id is not None
    assert await registry.users.emails(admin, owners) == {
        member.user_id: "mia@example.com",
        other.user_id: "oz@example.com",
    }
    assert await registry.users.emails(member, owners) == {member.user_id: "mia@example.com"}
    assert await registry.users.emails(member, [other.user_id]) == {}
