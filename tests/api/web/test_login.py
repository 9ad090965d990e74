"""Signing in and out through the pages, as a browser does."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from modelyard.db.auth_tables import WebSession
from modelyard.db.tables import User
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.api.web.browser import Browser, form, text
from tests.api.web.conftest import Person


async def test_sign_in_with_a_password_opens_a_session(
    browser: Browser, web_client: httpx.AsyncClient, person: Person
) -> None:
    page = await browser.get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "modelyard_session" not in web_client.cookies
    answer = await browser.submit(
        page, "/login", {"email": person.email.upper(), "password": person.password}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console"
    cookie = answer.headers["set-cookie"]
    assert "modelyard_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # the issuer is http here
    signed = await browser.get("/logout")
    assert signed.status_code == 200
    assert f"Signed in as {person.email}" in text(signed.text)


async def test_sign_in_goes_back_to_a_local_next_only(browser: Browser, person: Person) -> None:
    answer = await browser.sign_in(person.email, person.password, "/oauth/authorize%3Fx%3D1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/oauth/authorize?x=1"


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:x=1",
    ],
)
async def test_next_is_never_an_open_redirect(
    browser: Browser, person: Person, next_path: str
) -> None:
    from urllib.parse import quote

    answer = await browser.sign_in(person.email, person.password, quote(next_path, safe=""))
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("/")
    assert not location.startswith(("//", "/\\"))
    assert "\n" not in location
    assert "\r" not in location


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    browser: Browser, web_client: httpx.AsyncClient, person: Person
) -> None:
    wrong = await browser.sign_in(person.email, "not the password at all")
    unknown = await browser.sign_in("nobody@example.com", "not the password at all")
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "Wrong email or password." in text(answer.text)
        assert "modelyard_session" not in web_client.cookies
    assert form(wrong.text, "/login")["csrf_token"]


async def test_sign_out_ends_the_session(
    browser: Browser, web_client: httpx.AsyncClient, person: Person, registry: Registry
) -> None:
    await browser.sign_in(person.email, person.password)
    old_cookie = web_client.cookies["modelyard_session"]
    page = await browser.get("/logout")
    answer = await browser.submit(page, "/logout")
    assert answer.status_code == 200
    assert "You are signed out" in text(answer.text)
    assert "modelyard_session" not in web_client.cookies
    assert await registry.web_sessions.lookup(old_cookie) is None
    web_client.cookies.set("modelyard_session", old_cookie)  # a copy of the old cookie
    again = await browser.get("/logout")
    assert again.status_code == 303
    assert again.headers["location"] == "/login"


async def test_a_session_lasts_its_ttl_and_no_longer(
    browser: Browser, web_client: httpx.AsyncClient, registry: Registry, person: Person
) -> None:
    await registry.settings.set(Actor.operator(), "auth.session_ttl_s", 600)
    answer = await browser.sign_in(person.email, person.password)
    assert "Max-Age=600" in answer.headers["set-cookie"]
    assert (await browser.get("/account/apps")).status_code == 200
    async with registry.db.write(Actor.operator()) as tx:  # ten minutes later
        row = await tx.session.scalar(select(WebSession))
        assert row is not None
        assert row.expires_at - row.created_at == timedelta(seconds=600)
        row.expires_at = row.created_at
    assert (await browser.get("/account/apps")).status_code == 303


async def test_a_hash_with_old_parameters_is_renewed_at_sign_in(
    browser: Browser, registry: Registry, person: Person
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    async with registry.db.write(Actor.operator()) as tx:
        await tx.session.execute(
            update(User)
            .where(User.id == uuid.UUID(person.id))
            .values(password_hash=weak.hash(person.password))
        )
    assert (await browser.sign_in(person.email, person.password)).status_code == 303
    async with registry.db.read(Actor.operator()) as tx:
        user = await tx.session.get(User, uuid.UUID(person.id))
        assert user is not None
        stored = user.password_hash
    assert stored is not None
    assert "m=65536,t=3" in stored
    assert PasswordHasher().verify(stored, person.password)
    assert (await browser.get("/account/apps")).status_code == 200  # not a password change


async def test_a_signed_in_browser_goes_straight_on(
    browser: Browser, web_client: httpx.AsyncClient, person: Person
) -> None:
    await browser.sign_in(person.email, person.password)
    page = await browser.get("/login?next=/x")
    assert page.status_code == 303
    assert page.headers["location"] == "/x"
