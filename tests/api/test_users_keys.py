"""Users and API keys over HTTP: the lifecycle of a user, and what a key lets its holder do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from modelyard.db.types import utcnow
from modelyard.registry.scopes import SCOPES
from modelyard.services import Registry
from tests.api.helpers import (
    API,
    assert_error,
    auth,
    make_member,
    make_model,
    make_provider,
    ok,
    snapshot,
)

USERS, KEYS = f"{API}/users", f"{API}/keys"


@pytest.mark.parametrize(
    ("limit", "offset", "count"), [(2, 0, 2), (2, 2, 2), (3, 3, 1), (10, 4, 0)]
)
async def test_user_list_pages_with_limit_offset_and_total(
    client: httpx.AsyncClient, admin_key: str, limit: int, offset: int, count: int
) -> None:
    for _ in range(3):
        await make_member(client, admin_key)
    page = ok(
        await client.get(USERS, headers=auth(admin_key), params={"limit": limit, "offset": offset})
    )
    assert (len(page["items"]), page["total"], page["limit"], page["offset"]) == (
        count,
        4,  # the bootstrap admin and three members
        limit,
        offset,
    )


async def test_me_is_the_user_behind_the_key_and_others_are_not_found(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    alice = await make_member(client, admin_key)
    bob = await make_member(client, admin_key)
    me = ok(await client.get(f"{USERS}/me", headers=alice.headers))
    assert (me["id"], me["email"], me["role"]) == (alice.id, alice.email, "member")
    assert ok(await client.get(f"{USERS}/{alice.id}", headers=alice.headers)) == me
    assert_error(
        await client.get(f"{USERS}/{bob.id}", headers=alice.headers), 404, "USER_NOT_FOUND"
    )


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("GET", "?deleted=true", None),
        ("POST", "", {"email": "new@example.com"}),
        ("DELETE", "/{other}", None),
        ("POST", "/{other}/restore", None),
        ("DELETE", "/{other}/purge", None),
    ],
)
async def test_members_may_not_manage_users(
    client: httpx.AsyncClient, admin_key: str, method: str, suffix: str, body: Any
) -> None:
    member = await make_member(client, admin_key)
    other = await make_member(client, admin_key)
    before = await snapshot(client, admin_key, USERS, f"{USERS}?deleted=true")
    path = USERS + suffix.format(other=other.id)
    response = await client.request(method, path, headers=member.headers, json=body)
    assert_error(response, 403, "FORBIDDEN")
    assert await snapshot(client, admin_key, USERS, f"{USERS}?deleted=true") == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"role": "admin"}, 403, "FORBIDDEN"),
        ({"email": "else@example.com"}, 403, "FORBIDDEN"),
        ({"display_name": 42}, 422, "VALIDATION_FAILED"),
        ({"nickname": "x"}, 422, "VALIDATION_FAILED"),
    ],
)
async def test_member_changes_only_their_display_name(
    client: httpx.AsyncClient, admin_key: str, body: dict[str, Any], status: int, code: str
) -> None:
    member = await make_member(client, admin_key)
    me = f"{USERS}/{member.id}"
    before = await snapshot(client, admin_key, me)
    assert_error(await client.patch(me, headers=member.headers, json=body), status, code)
    assert await snapshot(client, admin_key, me) == before
    renamed = ok(await client.patch(me, headers=member.headers, json={"display_name": "Al"}))
    assert renamed["display_name"] == "Al"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"email": "USER-TAKEN@example.com"}, 409, "EMAIL_TAKEN"),
        ({"email": "not-an-email"}, 422, "VALIDATION_FAILED"),
        ({"email": "ok@example.com", "role": "owner"}, 422, "VALIDATION_FAILED"),
    ],
)
async def test_refused_user_creation_changes_nothing(
    client: httpx.AsyncClient, admin_key: str, body: dict[str, Any], status: int, code: str
) -> None:
    taken = {"email": "user-taken@example.com"}
    ok(await client.post(USERS, headers=auth(admin_key), json=taken), 201)
    before = await snapshot(client, admin_key, USERS)
    assert_error(await client.post(USERS, headers=auth(admin_key), json=body), status, code)
    assert await snapshot(client, admin_key, USERS) == before


async def test_plaintext_key_is_shown_once_and_never_listed(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    body = {"name": "laptop", "scopes": ["registry.read"]}
    created = ok(await client.post(KEYS, headers=member.headers, json=body), 201)
    token = created["key"]
    assert token.startswith("myk_")
    assert created["api_key"]["prefix"] == token[:12]
    assert created["api_key"]["scopes"] == ["registry.read"]
    for headers, params in [(member.headers, {}), (auth(admin_key), {"user_id": member.id})]:
        listed = await client.get(KEYS, headers=headers, params=params)
        assert token not in listed.text
        assert all("key" not in k and "key_hash" not in k for k in ok(listed))
        assert {k["name"] for k in ok(listed)} == {"test key", "laptop"}
    assert ok(await client.get(f"{USERS}/me", headers=auth(token)))["id"] == member.id


async def test_revoked_key_is_refused(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    created = ok(await client.post(KEYS, headers=member.headers, json={"name": "temp"}), 201)
    kid, path = created["api_key"]["id"], f"{KEYS}/{created['api_key']['id']}"
    revoked = ok(await client.delete(path, headers=member.headers))
    assert revoked["id"] == kid
    assert revoked["revoked_at"] is not None
    assert_error(await client.get(f"{USERS}/me", headers=auth(created["key"])), 401)
    before = await snapshot(client, member.key, KEYS)
    assert_error(await client.delete(path, headers=member.headers), 409, "KEY_REVOKED")
    assert await snapshot(client, member.key, KEYS) == before


async def test_expired_key_is_refused(
    client: httpx.AsyncClient, admin_key: str, registry: Registry
) -> None:
    member = await make_member(client, admin_key)
    expires = (utcnow() + timedelta(hours=1)).isoformat()
    created = ok(
        await client.post(
            KEYS,
            headers=member.headers,
            json={"name": "t", "expires_at": expires, "scopes": ["registry.read"]},
        ),
        201,
    )
    assert ok(await client.get(f"{USERS}/me", headers=auth(created["key"])))["id"] == member.id
    registry.db.clock = lambda: utcnow() + timedelta(hours=2)
    assert_error(
        await client.get(f"{USERS}/me", headers=auth(created["key"])), 401, "UNAUTHENTICATED"
    )
    assert ok(await client.get(f"{USERS}/me", headers=member.headers))["id"] == member.id


@pytest.mark.parametrize(
    "expires_at",
    ["2000-01-01T00:00:00Z", "2100-01-01T00:00:00", "soon"],
    ids=["past", "naive", "garbage"],
)
async def test_key_expiry_must_be_a_future_time_with_a_zone(
    client: httpx.AsyncClient, admin_key: str, expires_at: str
) -> None:
    member = await make_member(client, admin_key)
    before = await snapshot(client, member.key, KEYS)
    response = await client.post(
        KEYS, headers=member.headers, json={"name": "t", "expires_at": expires_at}
    )
    error = assert_error(response, 422, "VALIDATION_FAILED")
    assert error["details"]["errors"][0]["path"] == "expires_at"
    assert await snapshot(client, member.key, KEYS) == before


async def test_read_only_key_may_read_but_not_write(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    reader = await make_member(client, admin_key, scopes=["registry.read"])
    assert ok(await client.get(f"{API}/providers", headers=reader.headers))["total"] == 0
    response = await client.post(
        f"{API}/providers", headers=reader.headers, json={"name": "x", "kind": "ollama"}
    )
    error = assert_error(response, 403, "INSUFFICIENT_SCOPE")
    assert "registry.write" in error["message"]
    assert error["details"] == {"scope": "registry.write"}
    challenge = 'Bearer error="insufficient_scope", scope="registry.write"'
    assert response.headers["www-authenticate"] == challenge
    assert ok(await client.get(f"{API}/providers", headers=auth(admin_key)))["total"] == 0


async def test_member_may_not_create_or_list_keys_of_others(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    alice = await make_member(client, admin_key)
    bob = await make_member(client, admin_key)
    assert_error(await client.get(KEYS, headers=alice.headers, params={"user_id": bob.id}), 403)
    response = await client.post(KEYS, headers=alice.headers, json={"name": "x", "user_id": bob.id})
    assert_error(response, 403, "FORBIDDEN")
    assert len(ok(await client.get(KEYS, headers=auth(admin_key), params={"user_id": bob.id}))) == 1
    bob_key = ok(await client.get(KEYS, headers=bob.headers))[0]["id"]
    assert_error(await client.delete(f"{KEYS}/{bob_key}", headers=alice.headers), 404)
    assert ok(await client.get(KEYS, headers=bob.headers))[0]["revoked_at"] is None


async def test_soft_deleted_user_loses_access_and_their_providers_are_disabled(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    provider = await make_provider(client, member.key, "mine", is_default=True)
    deleted = ok(await client.delete(f"{USERS}/{member.id}", headers=auth(admin_key)))
    assert deleted["deleted_at"] is not None
    assert_error(await client.get(f"{USERS}/me", headers=member.headers), 401, "UNAUTHENTICATED")
    seen = ok(await client.get(f"{API}/providers/{provider['id']}", headers=auth(admin_key)))
    assert (seen["enabled"], seen["is_default"]) == (False, False)
    active = ok(await client.get(USERS, headers=auth(admin_key)))["items"]
    assert member.id not in {u["id"] for u in active}
    gone = ok(await client.get(USERS, headers=auth(admin_key), params={"deleted": "true"}))
    assert [u["id"] for u in gone["items"]] == [member.id]
    assert_error(await client.delete(f"{USERS}/{member.id}", headers=auth(admin_key)), 409)
    restored = ok(await client.post(f"{USERS}/{member.id}/restore", headers=auth(admin_key)))
    assert restored["deleted_at"] is None
    assert ok(await client.get(f"{USERS}/me", headers=member.headers))["id"] == member.id


async def test_purge_removes_the_user_with_their_providers_models_and_keys(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    provider = await make_provider(client, member.key, "mine")
    model = await make_model(client, member.key, provider["id"])
    admin = auth(admin_key)
    ok(await client.delete(f"{USERS}/{member.id}/purge", headers=admin), 204)
    assert_error(await client.get(f"{USERS}/{member.id}", headers=admin), 404, "USER_NOT_FOUND")
    assert_error(await client.get(f"{API}/providers/{provider['id']}", headers=admin), 404)
    assert_error(await client.get(f"{API}/models/{model['id']}", headers=admin), 404)
    assert ok(await client.get(KEYS, headers=admin, params={"user_id": member.id})) == []
    assert_error(await client.get(f"{USERS}/me", headers=member.headers), 401)


async def test_admin_may_not_purge_themselves_or_remove_the_last_admin(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    me = ok(await client.get(f"{USERS}/me", headers=auth(admin_key)))
    before = await snapshot(client, admin_key, USERS)
    assert_error(
        await client.delete(f"{USERS}/{me['id']}/purge", headers=auth(admin_key)), 409, "SELF_PURGE"
    )
    assert_error(
        await client.delete(f"{USERS}/{me['id']}", headers=auth(admin_key)), 409, "LAST_ADMIN"
    )
    assert await snapshot(client, admin_key, USERS) == before


async def test_a_members_new_key_may_call_models_only_unless_asked(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    own = ok(await client.post(KEYS, headers=member.headers, json={"name": "app"}), 201)
    given = ok(
        await client.post(KEYS, headers=auth(admin_key), json={"name": "ci", "user_id": member.id}),
        201,
    )
    for created in (own, given):
        assert created["api_key"]["scopes"] == ["llm.inference", "models.read"]
        assert ok(await client.get(f"{API}/models", headers=auth(created["key"])))["total"] == 0
        response = await client.get(f"{USERS}/me", headers=auth(created["key"]))
        assert "user.info" in assert_error(response, 403, "INSUFFICIENT_SCOPE")["message"]
    asked = {"name": "tools", "scopes": ["registry.read", "llm.inference"]}
    created = ok(await client.post(KEYS, headers=member.headers, json=asked), 201)
    assert created["api_key"]["scopes"] == ["llm.inference", "registry.read"]
    assert ok(await client.get(f"{USERS}/me", headers=auth(created["key"])))["id"] == member.id


async def test_an_admins_new_key_keeps_every_scope(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    other = await make_member(client, admin_key, role="admin")
    body = {"name": "ops", "user_id": other.id}
    created = ok(await client.post(KEYS, headers=auth(admin_key), json=body), 201)
    assert sorted(created["api_key"]["scopes"]) == sorted(SCOPES)
    mine = ok(await client.post(KEYS, headers=auth(admin_key), json={"name": "mine"}), 201)
    assert sorted(mine["api_key"]["scopes"]) == sorted(SCOPES)


@pytest.mark.parametrize(
    ("held", "asked", "beyond"),
    [
        (["registry.read", "registry.write"], None, "llm.inference"),  # the default too
        (["registry.read", "registry.write"], ["inference"], "llm.inference"),  # an old name
        (["llm.inference", "registry.write"], ["registry:read"], "registry.read"),
        (["models.read", "registry.write"], ["credits.read"], "credits.read"),
    ],
)
async def test_a_members_key_cannot_create_a_key_that_does_more(
    client: httpx.AsyncClient,
    admin_key: str,
    held: list[str],
    asked: list[str] | None,
    beyond: str,
) -> None:
    member = await make_member(client, admin_key, scopes=held)
    keys = {"user_id": member.id}
    before = [k["id"] for k in ok(await client.get(KEYS, headers=auth(admin_key), params=keys))]
    body: dict[str, Any] = {"name": "more"} | ({"scopes": asked} if asked else {})
    response = await client.post(KEYS, headers=member.headers, json=body)
    assert beyond in assert_error(response, 403, "FORBIDDEN")["message"]
    after = [k["id"] for k in ok(await client.get(KEYS, headers=auth(admin_key), params=keys))]
    assert after == before


async def test_unknown_or_no_scopes_are_refused(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    for scopes in (["registry:admin"], []):
        body = {"name": "x", "scopes": scopes}
        response = await client.post(KEYS, headers=member.headers, json=body)
        error = assert_error(response, 422, "VALIDATION_FAILED")
        assert error["details"]["errors"][0]["path"] == "scopes"


async def test_a_key_asked_with_the_old_scope_names_gets_the_new_ones(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    """inference, registry:read and registry:write (before 0.2) still make a key: stored
    under the vocabulary's names (inference listed models too), and the key works."""
    member = await make_member(client, admin_key)
    old = {"name": "old", "user_id": member.id, "scopes": ["inference", "registry:read"]}
    created = ok(await client.post(KEYS, headers=auth(admin_key), json=old), 201)
    assert created["api_key"]["scopes"] == ["llm.inference", "models.read", "registry.read"]
    listed = ok(await client.get(KEYS, headers=auth(admin_key), params={"user_id": member.id}))
    assert {k["name"]: k["scopes"] for k in listed}["old"] == created["api_key"]["scopes"]
    headers = auth(created["key"])
    assert ok(await client.get(f"{USERS}/me", headers=headers))["id"] == member.id
    assert ok(await client.get(f"{API}/credits", headers=headers))["user_id"] == member.id
    refused = await client.post(KEYS, headers=headers, json={"name": "x", "scopes": ["inference"]})
    assert_error(refused, 403, "INSUFFICIENT_SCOPE")  # reading is not writing
    mine = {"name": "mine", "scopes": ["registry:write", "inference"]}
    made = ok(await client.post(KEYS, headers=member.headers, json=mine), 201)
    assert made["api_key"]["scopes"] == ["llm.inference", "models.read", "registry.write"]
