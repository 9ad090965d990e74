"""PUT /api/v1/users/{id}/password: admins set anyone's, users their own (with the current
one); a new password ends the user's browser sessions; nothing of it is ever shown."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from modelyard.db.tables import AuditEvent
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.api.helpers import API, assert_error, auth, make_member
from tests.api.web.browser import Browser, text

PASSWORD = "first long passphrase"
NEW = "second long passphrase"


async def test_admin_sets_a_password_and_the_user_signs_in(
    web_client: httpx.AsyncClient, browser: Browser, admin_key: str, registry: Registry
) -> None:
    member = await make_member(web_client, admin_key)
    answer = await web_client.put(
        f"{API}/users/{member.id}/password", headers=auth(admin_key), json={"password": PASSWORD}
    )
    assert answer.status_code == 204
    assert answer.content == b""
    signed = await browser.sign_in(member.email, PASSWORD)
    assert signed.status_code == 303
    async with registry.db.read(Actor.operator()) as tx:
        events = list(
            await tx.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "user.password_set")
            )
        )
    assert [(e.entity_id, e.after) for e in events] == [
        (member.id, {"had_password": True, "by": "admin"})
    ]
    assert "argon2" not in str(events[0].before) + str(events[0].after)


async def test_users_change_their_own_with_the_current_one(
    web_client: httpx.AsyncClient, browser: Browser, admin_key: str
) -> None:
    member = await make_member(web_client, admin_key)
    path = f"{API}/users/{member.id}/password"
    first = await web_client.put(path, headers=member.headers, json={"password": PASSWORD})
    assert first.status_code == 204  # none was set: nothing to confirm
    await browser.sign_in(member.email, PASSWORD)
    assert (await browser.get("/account/apps")).status_code == 200
    missing = await web_client.put(path, headers=member.headers, json={"password": NEW})
    error = assert_error(missing, 422, "VALIDATION_FAILED")
    assert "current_password" in error["message"]
    wrong = await web_client.put(
        path, headers=member.headers, json={"password": NEW, "current_password": NEW}
    )
    assert_error(wrong, 403, "WRONG_PASSWORD")
    assert NEW not in wrong.text
    right = await web_client.put(
        path, headers=member.headers, json={"password": NEW, "current_password": PASSWORD}
    )
    assert right.status_code == 204
    # the browser's session ended with the change
    assert (await browser.get("/account/apps")).status_code == 303
    old = await browser.sign_in(member.email, PASSWORD)
    assert old.status_code == 401
    assert (await browser.sign_in(member.email, NEW)).status_code == 303


async def test_guessing_the_current_password_is_throttled_like_a_sign_in(
    web_client: httpx.AsyncClient, browser: Browser, admin_key: str
) -> None:
    member = await make_member(web_client, admin_key)
    path = f"{API}/users/{member.id}/password"
    assert (
        await web_client.put(path, headers=member.headers, json={"password": PASSWORD})
    ).status_code == 204
    for n in range(5):  # auth.login_throttle: 5 per account
        guess = {"password": NEW, "current_password": f"guess number {n}"}
        assert_error(
            await web_client.put(path, headers=member.headers, json=guess), 403, "WRONG_PASSWORD"
        )
    right = {"password": NEW, "current_password": PASSWORD}
    refused = await web_client.put(path, headers=member.headers, json=right)
    assert_error(refused, 429, "TOO_MANY_ATTEMPTS")
    assert PASSWORD not in refused.text
    # the same account's sign-in is held back too: one count of guesses, wherever made
    assert (await browser.sign_in(member.email, PASSWORD)).status_code == 429


async def test_members_cannot_set_others_passwords(
    web_client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(web_client, admin_key)
    other = await make_member(web_client, admin_key)
    answer = await web_client.put(
        f"{API}/users/{other.id}/password", headers=member.headers, json={"password": PASSWORD}
    )
    assert_error(answer, 404, "USER_NOT_FOUND")
    readonly = await make_member(web_client, admin_key, scopes=["registry.read"])
    answer = await web_client.put(
        f"{API}/users/{readonly.id}/password", headers=readonly.headers, json={"password": PASSWORD}
    )
    assert_error(answer, 403)


async def test_the_policy_and_bounds(web_client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(web_client, admin_key)
    path = f"{API}/users/{member.id}/password"
    cases = {
        "too short": 422,
        member.email.upper(): 422,
        "x" * 1001: 422,
        "twelve chars\x00 and a NUL": 422,
    }
    for password, status in cases.items():
        answer = await web_client.put(path, headers=auth(admin_key), json={"password": password})
        assert_error(answer, status, "VALIDATION_FAILED")
        assert password not in answer.text
    for body in ({}, {"password": 12345678901234}, {"password": PASSWORD, "extra": 1}):
        assert_error(await web_client.put(path, headers=auth(admin_key), json=body), 422)
    assert_error(
        await web_client.put(
            f"{API}/users/not-an-id/password", headers=auth(admin_key), json={"password": PASSWORD}
        ),
        404,
        "USER_NOT_FOUND",
    )


async def test_suspension_and_deletion_end_sessions(
    web_client: httpx.AsyncClient, browser: Browser, admin_key: str
) -> None:
    member = await make_member(web_client, admin_key)
    path = f"{API}/users/{member.id}/password"
    await web_client.put(path, headers=auth(admin_key), json={"password": PASSWORD})
    await browser.sign_in(member.email, PASSWORD)
    assert (await browser.get("/account/apps")).status_code == 200
    suspend = {"status": "suspended"}
    await web_client.patch(f"{API}/users/{member.id}", headers=auth(admin_key), json=suspend)
    assert (await browser.get("/account/apps")).status_code == 303
    refused = await browser.sign_in(member.email, PASSWORD)
    assert refused.status_code == 403
    assert "suspended" in text(refused.text)
    active = {"status": "active"}
    await web_client.patch(f"{API}/users/{member.id}", headers=auth(admin_key), json=active)
    await browser.sign_in(member.email, PASSWORD)
    assert (await browser.get("/account/apps")).status_code == 200
    await web_client.delete(f"{API}/users/{member.id}", headers=auth(admin_key))
    assert (await browser.get("/account/apps")).status_code == 303
