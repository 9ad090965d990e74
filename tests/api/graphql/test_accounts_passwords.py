"""setPassword over /graphql, as PUT /api/v1/users/{id}/password: admins set anyone's, a
member their own with the current one, an app's access token nobody's (PERSON_ONLY); the
password is in no answer, error, log line or audit event."""

from __future__ import annotations

import logging

import httpx
import pytest

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, assert_error, auth, make_member, ok
from tests.support import oauth_rows

SET = """mutation($userId: ID!, $input: SetPasswordInput!) {
  setPassword(userId: $userId, input: $input)
}"""
FIRST = "first password, long enough"
SECOND = "second password, also long"


async def _password_events(client: httpx.AsyncClient, admin_key: str, user_id: str) -> list[dict]:
    params = {"entity_id": user_id, "action": "user.password_set"}
    return ok(await client.get(f"{API}/audit", headers=auth(admin_key), params=params))["items"]


async def test_an_admin_sets_and_a_member_changes_their_own(
    client: httpx.AsyncClient, admin_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    member = await make_member(client, admin_key)
    set_by_admin = {"userId": member.id, "input": {"password": FIRST}}
    assert (await data(client, admin_key, SET, set_by_admin))["setPassword"] == member.id

    own = {"userId": member.id, "input": {"password": SECOND}}
    found = await error(client, member.key, SET, own, code="VALIDATION_FAILED")
    assert found["extensions"]["details"]["errors"][0]["path"] == "currentPassword"
    wrong = {"userId": member.id, "input": {"password": SECOND, "currentPassword": "not it at all"}}
    found = await error(client, member.key, SET, wrong, code="WRONG_PASSWORD")
    assert found["extensions"]["status"] == 403
    right = {"userId": member.id, "input": {"password": SECOND, "currentPassword": FIRST}}
    assert (await data(client, member.key, SET, right))["setPassword"] == member.id
    # the second password is the one in force now: the first no longer counts as current
    stale = {"userId": member.id, "input": {"password": FIRST, "currentPassword": FIRST}}
    await error(client, member.key, SET, stale, code="WRONG_PASSWORD")

    events = await _password_events(client, admin_key, member.id)
    assert [e["after"]["by"] for e in reversed(events)] == ["admin", "self"]
    trail = (await client.get(f"{API}/audit", headers=auth(admin_key))).text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (FIRST, SECOND, "not it at all"):
        assert secret not in trail
        assert secret not in logged


async def test_the_policy_is_rests_and_nothing_changes(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    for password, problem in (
        ("too short", "at least 12"),
        (member.email, "email"),
        ("x" * 1001, "at most"),
    ):
        variables = {"userId": member.id, "input": {"password": password}}
        found = await error(client, admin_key, SET, variables, code="VALIDATION_FAILED")
        assert found["extensions"]["status"] == 422
        assert found["extensions"]["details"]["errors"][0]["path"] == "password"
        assert problem in found["message"]
        assert password not in str(found)
        rest = await client.put(
            f"{API}/users/{member.id}/password",
            headers=auth(admin_key),
            json={"password": password},
        )
        assert_error(rest, 422, "VALIDATION_FAILED")
    await error(
        client,
        admin_key,
        SET,
        {"userId": "8d0d5b55-0000-4000-8000-000000000000", "input": {"password": FIRST}},
        code="USER_NOT_FOUND",
    )
    assert await _password_events(client, admin_key, member.id) == []


async def test_a_member_cannot_set_anyone_elses(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    other = await make_member(client, admin_key)
    admin_id = (await data(client, admin_key, "{ me { id } }"))["me"]["id"]
    for target in (other.id, admin_id):
        variables = {"userId": target, "input": {"password": FIRST}}
        found = await error(client, member.key, SET, variables, code="USER_NOT_FOUND")
        assert found["extensions"]["status"] == 404
        rest = await client.put(
            f"{API}/users/{target}/password", headers=member.headers, json={"password": FIRST}
        )
        assert_error(rest, 404, "USER_NOT_FOUND")
        assert await _password_events(client, admin_key, target) == []


async def test_an_apps_token_cannot_set_a_password(
    client: httpx.AsyncClient, registry: Registry, admin: Actor, admin_key: str
) -> None:
    assert admin.user_id is not None
    member = await make_member(client, admin_key)
    for user_id in (member.id, str(admin.user_id)):
        token = await oauth_rows.mint(registry, user_id, ("registry.read", "registry.write"))
        for target in {member.id, user_id}:
            variables = {"userId": target, "input": {"password": FIRST}}
            found = await error(client, token, SET, variables, code="PERSON_ONLY")
            assert found["extensions"]["status"] == 403
            rest = await client.put(
                f"{API}/users/{target}/password", headers=auth(token), json={"password": FIRST}
            )
            assert_error(rest, 403, "PERSON_ONLY")
    for user_id in (member.id, str(admin.user_id)):
        assert await _password_events(client, admin_key, user_id) == []


async def test_a_misspelt_field_does_not_echo_the_password(
    client: httpx.AsyncClient, admin_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    member = await make_member(client, admin_key)
    typo = {"password": FIRST, "currentPasword": SECOND}
    answer = await gql(client, admin_key, SET, {"userId": member.id, "input": typo})
    assert answer.status_code == 400
    message = answer.json()["errors"][0]["message"]
    assert "currentPasword" in message
    not_text = await gql(client, admin_key, SET, {"userId": member.id, "input": {"password": 1234}})
    assert not_text.status_code == 400
    inline = await gql(
        client,
        admin_key,
        f'mutation {{ setPassword(userId: "{member.id}", input: {{password: "{FIRST}", x: 1}}) }}',
    )
    assert inline.status_code == 400
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for text in (answer.text, not_text.text, inline.json()["errors"][0]["message"], logged):
        assert FIRST not in text
        assert SECOND not in text
        assert "1234" not in text
    assert await _password_events(client, admin_key, member.id) == []


async def test_without_a_credential_nothing_runs(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    answer = await gql(client, None, SET, {"userId": member.id, "input": {"password": FIRST}})
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert FIRST not in answer.text
    assert await _password_events(client, admin_key, member.id) == []
