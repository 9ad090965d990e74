"""Users over /graphql: me, user, users, createUser, updateUser, deleteUser, restoreUser,
purgeUser, as /api/v1/users answers them (same service, scopes, errors and audit)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, assert_error, auth, make_member, ok, snapshot

FIELDS = "id email displayName role status emailVerified rpmLimit tpmLimit deletedAt"
ME = f"{{ me {{ {FIELDS} }} }}"
USER = f"query($id: ID!) {{ user(id: $id) {{ {FIELDS} }} }}"
USERS = """query($first: Int, $after: String, $deleted: Boolean) {
  users(first: $first, after: $after, deleted: $deleted) {
    totalCount nodes { id email deletedAt }
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""
CREATE = f"""mutation($input: CreateUserInput!) {{ createUser(input: $input) {{ {FIELDS} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: UpdateUserInput!) {{
  updateUser(id: $id, input: $input) {{ {FIELDS} }}
}}"""
DELETE = "mutation($id: ID!) { deleteUser(id: $id) { id deletedAt } }"
RESTORE = "mutation($id: ID!) { restoreUser(id: $id) { id deletedAt } }"
PURGE = "mutation($id: ID!) { purgeUser(id: $id) }"


async def actions(client: httpx.AsyncClient, admin_key: str, entity_id: str) -> list[str]:
    """The audit trail's actions on ``entity_id``, oldest first (read through REST)."""
    query = {"entity_id": entity_id, "limit": 500}
    events = ok(await client.get(f"{API}/audit", headers=auth(admin_key), params=query))
    return [e["action"] for e in reversed(events["items"])]


async def test_an_admin_manages_users_through_their_lifecycle(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    me = (await data(client, admin_key, ME))["me"]
    assert me["email"] == "admin@example.com"
    assert me["role"] == "ADMIN"
    created = (
        await data(
            client,
            admin_key,
            CREATE,
            {"input": {"email": "ada@example.com", "displayName": "Ada", "rpmLimit": 60}},
        )
    )["createUser"]
    assert created == {
        **created,
        "email": "ada@example.com",
        "displayName": "Ada",
        "role": "MEMBER",
        "status": "ACTIVE",
        "emailVerified": False,
        "rpmLimit": 60,
        "tpmLimit": None,
        "deletedAt": None,
    }
    uid = created["id"]
    rest = ok(await client.get(f"{API}/users/{uid}", headers=auth(admin_key)))
    assert rest["email"] == "ada@example.com"
    assert rest["rpm_limit"] == 60
    assert (await data(client, admin_key, USER, {"id": uid}))["user"] == created

    changes = {"role": "ADMIN", "status": "SUSPENDED", "tpmLimit": 1000, "rpmLimit": None}
    updated = (await data(client, admin_key, UPDATE, {"id": uid, "input": changes}))["updateUser"]
    assert updated == {
        **created,
        "role": "ADMIN",
        "status": "SUSPENDED",
        "tpmLimit": 1000,
        "rpmLimit": None,
    }
    rest = ok(await client.get(f"{API}/users/{uid}", headers=auth(admin_key)))
    assert (rest["role"], rest["status"], rest["tpm_limit"]) == ("admin", "suspended", 1000)

    deleted = (await data(client, admin_key, DELETE, {"id": uid}))["deleteUser"]
    assert deleted["id"] == uid
    assert deleted["deletedAt"] is not None
    live = (await data(client, admin_key, USERS))["users"]
    assert uid not in [n["id"] for n in live["nodes"]]
    gone = (await data(client, admin_key, USERS, {"deleted": True}))["users"]
    assert [n["id"] for n in gone["nodes"]] == [uid]
    found = await error(client, admin_key, DELETE, {"id": uid}, code="USER_DELETED")
    assert found["extensions"]["status"] == 409
    assert found["path"] == ["deleteUser"]

    restored = (await data(client, admin_key, RESTORE, {"id": uid}))["restoreUser"]
    assert restored == {"id": uid, "deletedAt": None}
    await error(client, admin_key, RESTORE, {"id": uid}, code="USER_NOT_DELETED")

    assert (await data(client, admin_key, PURGE, {"id": uid}))["purgeUser"] == uid
    assert_error(await client.get(f"{API}/users/{uid}", headers=auth(admin_key)), 404)
    await error(client, admin_key, USER, {"id": uid}, code="USER_NOT_FOUND")
    assert await actions(client, admin_key, uid) == [
        "user.create",
        "user.update",
        "user.delete",
        "user.restore",
        "user.purge",
    ]


async def test_users_pages_with_cursors(client: httpx.AsyncClient, admin_key: str) -> None:
    for n in range(4):
        await data(client, admin_key, CREATE, {"input": {"email": f"p{n}@example.com"}})
    everyone = (await data(client, admin_key, USERS))["users"]
    assert everyone["totalCount"] == 5
    emails = [n["email"] for n in everyone["nodes"]]
    rest = ok(await client.get(f"{API}/users", headers=auth(admin_key)))
    assert emails == [u["email"] for u in rest["items"]]
    first = (await data(client, admin_key, USERS, {"first": 2}))["users"]
    assert [n["email"] for n in first["nodes"]] == emails[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    after = first["pageInfo"]["endCursor"]
    assert after == first["edges"][-1]["cursor"]
    second = (await data(client, admin_key, USERS, {"first": 2, "after": after}))["users"]
    assert [n["email"] for n in second["nodes"]] == emails[2:4]
    assert second["pageInfo"]["hasPreviousPage"] is True
    bad = await error(client, admin_key, USERS, {"first": 501}, code="VALIDATION_FAILED")
    assert bad["extensions"]["details"]["errors"][0]["path"] == "first"
    await error(client, admin_key, USERS, {"after": "not-a-cursor"}, code="VALIDATION_FAILED")


async def test_bad_input_is_refused_as_rest_refuses_it(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    before = await snapshot(client, admin_key, f"{API}/users")
    found = await error(
        client, admin_key, CREATE, {"input": {"email": "not-an-email"}}, code="VALIDATION_FAILED"
    )
    assert found["extensions"]["status"] == 422
    assert found["extensions"]["details"]["errors"][0]["path"] == "email"
    rest = await client.post(f"{API}/users", headers=auth(admin_key), json={"email": "nope"})
    assert_error(rest, 422, "VALIDATION_FAILED")
    too_fast = {"email": "x@example.com", "rpmLimit": 0}
    found = await error(client, admin_key, CREATE, {"input": too_fast}, code="VALIDATION_FAILED")
    assert found["extensions"]["details"]["errors"][0]["path"] == "rpmLimit"
    taken = {"email": "admin@example.com"}
    found = await error(client, admin_key, CREATE, {"input": taken}, code="EMAIL_TAKEN")
    rest = await client.post(f"{API}/users", headers=auth(admin_key), json=taken)
    assert_error(rest, 409, "EMAIL_TAKEN")
    assert found["extensions"]["status"] == 409
    me = (await data(client, admin_key, ME))["me"]
    null_name = {"id": me["id"], "input": {"displayName": None}}
    found = await error(client, admin_key, UPDATE, null_name, code="VALIDATION_FAILED")
    assert found["extensions"]["details"]["errors"][0]["path"] == "displayName"
    last = await error(
        client, admin_key, UPDATE, {"id": me["id"], "input": {"role": "MEMBER"}}, code="LAST_ADMIN"
    )
    assert last["extensions"]["status"] == 409
    await error(client, admin_key, PURGE, {"id": me["id"]}, code="SELF_PURGE")
    await error(client, admin_key, USER, {"id": "not-a-uuid"}, code="USER_NOT_FOUND")
    assert await snapshot(client, admin_key, f"{API}/users") == before


async def test_a_member_sees_and_renames_only_themselves(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    other = await make_member(client, admin_key)
    admin_id = (await data(client, admin_key, ME))["me"]["id"]
    me = (await data(client, member.key, ME))["me"]
    assert (me["id"], me["email"], me["role"]) == (member.id, member.email, "MEMBER")
    assert (await data(client, member.key, USER, {"id": member.id}))["user"] == me
    renamed = await data(
        client, member.key, UPDATE, {"id": member.id, "input": {"displayName": "Me"}}
    )
    assert renamed["updateUser"]["displayName"] == "Me"

    paths = [f"{API}/users/{other.id}", f"{API}/users/{admin_id}", f"{API}/users"]
    before = await snapshot(client, admin_key, *paths)
    for target in (other.id, admin_id):
        found = await error(client, member.key, USER, {"id": target}, code="USER_NOT_FOUND")
        assert found["extensions"]["status"] == 404
        rest = await client.get(f"{API}/users/{target}", headers=member.headers)
        assert_error(rest, 404, "USER_NOT_FOUND")
        change: dict[str, Any] = {"id": target, "input": {"displayName": "pwned"}}
        await error(client, member.key, UPDATE, change, code="USER_NOT_FOUND")
    promote = {"id": member.id, "input": {"role": "ADMIN"}}
    found = await error(client, member.key, UPDATE, promote, code="FORBIDDEN")
    assert found["extensions"]["status"] == 403
    await error(client, member.key, USERS, code="FORBIDDEN")
    await error(client, member.key, CREATE, {"input": {"email": "n@example.com"}}, code="FORBIDDEN")
    for document in (DELETE, RESTORE, PURGE):
        await error(client, member.key, document, {"id": other.id}, code="FORBIDDEN")
    assert await snapshot(client, admin_key, *paths) == before
    assert ok(await client.get(f"{API}/users/me", headers=member.headers))["role"] == "member"
    assert await actions(client, admin_key, other.id) == ["user.create"]


async def test_a_key_without_the_scope_is_refused(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key, scopes=["models.read"])
    found = await error(client, member.key, ME, code="INSUFFICIENT_SCOPE")
    assert found["extensions"]["status"] == 403
    await error(client, member.key, USER, {"id": member.id}, code="INSUFFICIENT_SCOPE")
    change = {"id": member.id, "input": {"displayName": "x"}}
    await error(client, member.key, UPDATE, change, code="INSUFFICIENT_SCOPE")
    rest = ok(await client.get(f"{API}/users/{member.id}", headers=auth(admin_key)))
    assert rest["display_name"] == ""


async def test_without_a_credential_nothing_runs(client: httpx.AsyncClient, admin_key: str) -> None:
    uid = (await data(client, admin_key, ME))["me"]["id"]
    before = await snapshot(client, admin_key, f"{API}/users")
    for document, variables in (
        (ME, None),
        (USER, {"id": uid}),
        (USERS, None),
        (CREATE, {"input": {"email": "anon@example.com"}}),
        (UPDATE, {"id": uid, "input": {"displayName": "anon"}}),
        (DELETE, {"id": uid}),
        (RESTORE, {"id": uid}),
        (PURGE, {"id": uid}),
    ):
        answer = await gql(client, None, document, variables)
        assert answer.status_code == 401, answer.text
        assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await snapshot(client, admin_key, f"{API}/users") == before
