"""Presented tokens (RFC 7009/7662): found whatever their state, active only while usable,
revoked one by one (access) or by family (refresh), audited."""

from __future__ import annotations

from sqlalchemy import select

from modelyard.db.auth_tables import OAuthClient, OAuthToken
from modelyard.db.tables import AuditEvent
from modelyard.registry import oauth_presented, oauth_tokens
from modelyard.registry.actors import Actor
from modelyard.registry.users import UserUpdate
from modelyard.services import Registry
from tests.registry.helpers import member
from tests.support.client_rows import Clock, add_client

OPERATOR = Actor.operator()


async def _issue(registry: Registry, client: OAuthClient, user: Actor) -> tuple[str, str]:
    assert user.user_id is not None
    ttl = await oauth_tokens.lifetimes(registry.db)
    issued = oauth_tokens.Issued(
        oauth_tokens.new_access_token(),
        oauth_tokens.new_refresh_token(),
        ["models.read"],
        "authorization_code",
        ttl,
    )
    await oauth_tokens.store(registry.db, issued, client_pk=client.id, user_id=user.user_id)
    assert issued.refresh_token is not None
    return issued.access_token, issued.refresh_token


async def _active(registry: Registry, text: str) -> bool | None:
    found = await oauth_presented.lookup(registry.db, OPERATOR, text)
    return None if found is None else found.active


async def test_states(registry: Registry, admin: Actor) -> None:
    clock = Clock()
    registry.db.clock = clock
    app, _ = await add_client(registry, "app")
    alice = await member(registry, admin)
    access, refresh = await _issue(registry, app, alice)
    found = await oauth_presented.lookup(registry.db, OPERATOR, access)
    assert found is not None
    assert (found.kind, found.client_id, found.scopes, found.active) == (
        "access_token",
        "app",
        ("models.read",),
        True,
    )
    assert await _active(registry, refresh) is True
    for unknown in ("", "myat_nope", "myrt_nope", "random", "myat_" + "x" * 10_000):
        assert await _active(registry, unknown) is None

    clock.advance(3601)  # the access token expired, the refresh token did not
    assert (await _active(registry, access), await _active(registry, refresh)) == (False, True)
    assert alice.user_id is not None
    await registry.users.update(admin, alice.user_id, UserUpdate(status="suspended"))
    assert await _active(registry, refresh) is False


async def test_revoking_an_access_token_leaves_the_family(registry: Registry, admin: Actor) -> None:
    app, _ = await add_client(registry, "app")
    alice = await member(registry, admin)
    access, refresh = await _issue(registry, app, alice)
    other_access, other_refresh = await _issue(registry, app, alice)
    found = await oauth_presented.lookup(registry.db, OPERATOR, access)
    assert found is not None
    before = await registry.generation()
    assert await oauth_presented.revoke(registry.db, OPERATOR, found) == 1
    assert await registry.generation() > before
    assert (await _active(registry, access), await _active(registry, refresh)) == (False, False)
    assert await _active(registry, other_access) is True
    assert await oauth_presented.revoke(registry.db, OPERATOR, found) == 0  # no second event
    async with registry.db.read(OPERATOR) as tx:
        events = list(
            await tx.session.scalars(
                select(AuditEvent).where(AuditEvent.action.like("oauth_token.%"))
            )
        )
    assert [e.action for e in events] == ["oauth_token.revoke"]
    said = str(events[0].before) + str(events[0].after)
    assert access not in said
    assert oauth_tokens.digest(access) not in said
    assert await _active(registry, other_refresh) is True


async def test_revoking_a_refresh_token_revokes_its_family(
    registry: Registry, admin: Actor
) -> None:
    app, _ = await add_client(registry, "app")
    alice = await member(registry, admin)
    first_access, refresh = await _issue(registry, app, alice)
    first = await oauth_tokens.find_refresh(registry.db, refresh)
    assert first is not None
    ttl = await oauth_tokens.lifetimes(registry.db)
    newer = oauth_tokens.Issued(
        oauth_tokens.new_access_token(),
        oauth_tokens.new_refresh_token(),
        ["models.read"],
        "refresh_token",
        ttl,
    )
    await oauth_tokens.rotate(registry.db, first.token.id, newer)
    assert await _active(registry, refresh) is False  # exchanged already
    assert newer.refresh_token is not None
    found = await oauth_presented.lookup(registry.db, OPERATOR, newer.refresh_token)
    assert found is not None
    assert await oauth_presented.revoke(registry.db, OPERATOR, found) == 2
    async with registry.db.read(OPERATOR) as tx:
        rows = list(await tx.session.scalars(select(OAuthToken)))
    assert {(r.revoked_reason is not None) for r in rows} == {True}
    assert await _active(registry, newer.access_token) is False
    assert await _active(registry, first_access) is False
