"""OAuth access tokens on the admin API (/api/v1): the user, held to the token's scopes,
named with the app acting for them in the audit trail; a token that is not valid (revoked,
expired, its user suspended or deleted, its client disabled, made up) is a 401 saying
nothing of why, and a token lacking a scope a 403 naming it, changing nothing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import select

from modelyard.db.tables import AuditEvent
from modelyard.registry.actors import Actor
from modelyard.registry.users import UserCreate, UserUpdate
from modelyard.services import Registry
from tests.api.helpers import API, assert_error, auth, make_member, make_model, make_provider, ok
from tests.support import oauth_rows

READ_WRITE = ("registry.read", "registry.write")


async def _member(registry: Registry, admin: Actor) -> uuid.UUID:
    return (await registry.users.create(admin, UserCreate(email="app@example.com"))).id


async def test_a_token_acts_as_its_user_and_audit_names_the_app(
    client: httpx.AsyncClient, registry: Registry, admin: Actor
) -> None:
    user_id = await _member(registry, admin)
    token = await oauth_rows.mint(registry, user_id, READ_WRITE)
    me = ok(await client.get(f"{API}/users/me", headers=auth(token)))
    assert me["email"] == "app@example.com"
    body = {"temperature": "0.5"}
    ok(await client.put(f"{API}/users/me/preferences", headers=auth(token), json=body))
    async with registry.db.engine.connect() as conn:
        labels = (await conn.execute(select(AuditEvent.actor_label))).scalars().all()
    assert "user:app@example.com via test-app" in labels
    assert token not in str(labels)


async def test_a_token_lacking_the_scope_is_a_403_naming_it_and_changes_nothing(
    client: httpx.AsyncClient, registry: Registry, admin: Actor, admin_key: str
) -> None:
    assert admin.user_id is not None
    inference = await oauth_rows.mint(registry, admin.user_id, ("llm.inference",))
    error = assert_error(
        await client.get(f"{API}/providers", headers=auth(inference)), 403, "INSUFFICIENT_SCOPE"
    )
    assert error["details"]["scope"] == "registry.read"
    reader = await oauth_rows.mint(registry, admin.user_id, ("registry.read",))
    assert ok(await client.get(f"{API}/users", headers=auth(reader)))["total"] == 1  # an admin
    created = await client.post(
        f"{API}/users", headers=auth(reader), json={"email": "new@example.com"}
    )
    error = assert_error(created, 403, "INSUFFICIENT_SCOPE")
    assert error["details"]["scope"] == "registry.write"
    assert ok(await client.get(f"{API}/users", headers=auth(admin_key)))["total"] == 1


async def test_a_members_token_has_a_members_rights(
    client: httpx.AsyncClient, registry: Registry, admin: Actor
) -> None:
    token = await oauth_rows.mint(registry, await _member(registry, admin), READ_WRITE)
    response = await client.post(f"{API}/users", headers=auth(token), json={"email": "x@e.com"})
    assert_error(response, 403, "FORBIDDEN")


async def _revoke(registry: Registry, _admin: Actor, _user: uuid.UUID, token: str) -> None:
    await oauth_rows.revoke(registry, token)


async def _suspend(registry: Registry, admin: Actor, user: uuid.UUID, _token: str) -> None:
    await registry.users.update(admin, user, UserUpdate(status="suspended"))


async def _delete(registry: Registry, admin: Actor, user: uuid.UUID, _token: str) -> None:
    await registry.users.delete(admin, user)


async def _disable(registry: Registry, _admin: Actor, _user: uuid.UUID, _token: str) -> None:
    await oauth_rows.disable_client(registry)


async def _drop(registry: Registry, _admin: Actor, _user: uuid.UUID, _token: str) -> None:
    await oauth_rows.delete_client(registry)


@pytest.mark.parametrize(
    "change",
    [_revoke, _suspend, _delete, _disable, _drop],
    ids=["revoked", "user-suspended", "user-deleted", "client-disabled", "client-deleted"],
)
async def test_a_token_no_longer_valid_is_a_401(
    client: httpx.AsyncClient,
    registry: Registry,
    admin: Actor,
    change: Callable[[Registry, Actor, uuid.UUID, str], Awaitable[None]],
) -> None:
    user_id = await _member(registry, admin)
    token = await oauth_rows.mint(registry, user_id, READ_WRITE)
    ok(await client.get(f"{API}/users/me", headers=auth(token)))
    await change(registry, admin, user_id, token)
    response = await client.get(f"{API}/users/me", headers=auth(token))
    error = assert_error(response, 401, "UNAUTHENTICATED")
    assert error["message"] == "invalid, expired or revoked access token"


@pytest.mark.parametrize(
    "token",
    ["myat_" + "x" * 43, "myat_", "myat_short", "myat_" + "!" * 43, "myat_" + "y" * 5000],
    ids=["unknown", "empty", "short", "not-urlsafe", "huge"],
)
async def test_made_up_tokens_are_401s(
    client: httpx.AsyncClient, registry: Registry, admin: Actor, token: str
) -> None:
    response = await client.get(f"{API}/users/me", headers=auth(token))
    error = assert_error(response, 401, "UNAUTHENTICATED")
    assert token not in error["message"]


async def test_an_expired_token_is_a_401(
    client: httpx.AsyncClient, registry: Registry, admin: Actor
) -> None:
    token = await oauth_rows.mint(registry, await _member(registry, admin), READ_WRITE, ttl_s=-1)
    assert_error(await client.get(f"{API}/users/me", headers=auth(token)), 401, "UNAUTHENTICATED")


async def test_an_admins_credits_read_token_reads_only_the_admins_own_credits(
    client: httpx.AsyncClient, registry: Registry, admin: Actor
) -> None:
    """credits.read is "your balance and ledger": an app an admin connected with it does
    not read everyone's; other users' credits need registry.read too."""
    assert admin.user_id is not None
    member = await _member(registry, admin)
    credits = await oauth_rows.mint(registry, admin.user_id, ("credits.read",))
    own = ok(await client.get(f"{API}/credits", headers=auth(credits)))
    assert own["user_id"] == str(admin.user_id)
    mine = ok(await client.get(f"{API}/credits?user_id={admin.user_id}", headers=auth(credits)))
    assert mine["user_id"] == str(admin.user_id)
    for path in (f"{API}/credits?user_id={member}", f"{API}/credits/ledger?user_id={member}"):
        error = assert_error(
            await client.get(path, headers=auth(credits)), 403, "INSUFFICIENT_SCOPE"
        )
        assert error["details"]["scope"] == "registry.read"
    reader = await oauth_rows.mint(registry, admin.user_id, ("registry.read",))
    theirs = ok(await client.get(f"{API}/credits?user_id={member}", headers=auth(reader)))
    assert theirs["user_id"] == str(member)


async def test_an_admins_models_read_token_sees_what_a_member_would(
    client: httpx.AsyncClient, registry: Registry, admin: Actor, admin_key: str
) -> None:
    """models.read is "the models you may use": an app an admin connected with it does not
    see other users' own providers (names, addresses, key hints) and their models."""
    assert admin.user_id is not None
    member = await make_member(client, admin_key)
    system = await make_provider(client, admin_key, "system-openai")
    await make_model(client, admin_key, system["id"], "gpt-4o")
    theirs = await make_provider(client, member.key, "member-byok")
    private = await make_model(client, member.key, theirs["id"], "gpt-4o-mini")
    token = await oauth_rows.mint(registry, admin.user_id, ("models.read",))
    overview = ok(await client.get(f"{API}/overview", headers=auth(token)))
    assert [p["name"] for p in overview] == ["system-openai"]
    assert overview[0]["api_key"] is None
    models = ok(await client.get(f"{API}/models", headers=auth(token)))
    assert [m["model_id"] for m in models["items"]] == ["gpt-4o"]
    hidden = await client.get(f"{API}/models/{private['id']}", headers=auth(token))
    assert_error(hidden, 404, "MODEL_NOT_FOUND")
    reader = await oauth_rows.mint(registry, admin.user_id, ("registry.read",))
    everything = ok(await client.get(f"{API}/overview", headers=auth(reader)))
    assert len(everything) == 2
    assert len(ok(await client.get(f"{API}/models", headers=auth(reader)))["items"]) == 2


async def test_an_apps_token_cannot_set_a_password(
    client: httpx.AsyncClient, registry: Registry, admin: Actor
) -> None:
    """A password opens a browser session, which approves any app for any scope: an app
    holding registry.write for a user without a password (or an admin) cannot set one."""
    assert admin.user_id is not None
    member = await _member(registry, admin)
    for user_id in (member, admin.user_id):
        token = await oauth_rows.mint(registry, user_id, READ_WRITE)
        body = {"password": "a long enough new passphrase"}
        for target in {member, user_id}:
            answer = await client.put(
                f"{API}/users/{target}/password", headers=auth(token), json=body
            )
            assert_error(answer, 403, "PERSON_ONLY")
    async with registry.db.engine.connect() as conn:
        actions = (await conn.execute(select(AuditEvent.action))).scalars().all()
    assert "user.password_set" not in actions
