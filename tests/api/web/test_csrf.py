"""Forged form posts are refused with a 403 error page and change nothing: no token, a
wrong one, another session's, or another site's Origin or Referer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from modelyard.api.app import create_app
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.web.browser import ORIGIN, Browser, form, text
from tests.api.web.conftest import Person
from tests.api.web.oauth_rows import connect_app

FOREIGN = "https://evil.example"


def _refused(answer: httpx.Response) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "This form could not be accepted" in text(answer.text)


async def _still_signed_in(browser: Browser) -> None:
    assert (await browser.get("/account/apps")).status_code == 200


async def test_login_needs_the_token_of_its_own_cookie(
    browser: Browser, web_client: httpx.AsyncClient, person: Person
) -> None:
    page = await browser.get("/login")
    token = form(page.text, "/login")["csrf_token"]
    credentials = {"email": person.email, "password": person.password}
    headers = {"Origin": ORIGIN}
    for data in (credentials, credentials | {"csrf_token": "forged" * 5}):
        _refused(await web_client.post("/login", data=data, headers=headers))
    web_client.cookies.clear()  # the token of a page, without the cookie that came with it
    answer = await web_client.post("/login", data=credentials | {"csrf_token": token})
    _refused(answer)
    assert "modelyard_session" not in web_client.cookies


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": FOREIGN},
        {"Origin": "null"},
        {"Origin": "http://modelyard.test:8080"},
        {"Origin": "https://modelyard.test"},
        {"Referer": FOREIGN + "/login"},
    ],
)
async def test_login_from_another_site_is_refused(
    browser: Browser, web_client: httpx.AsyncClient, person: Person, headers: dict[str, str]
) -> None:
    page = await browser.get("/login")
    data = form(page.text, "/login") | {"email": person.email, "password": person.password}
    _refused(await web_client.post("/login", data=data, headers=headers))
    assert "modelyard_session" not in web_client.cookies


async def test_a_post_without_origin_or_referer_is_judged_by_its_token(
    browser: Browser, web_client: httpx.AsyncClient, person: Person
) -> None:
    page = await browser.get("/login")
    data = form(page.text, "/login") | {"email": person.email, "password": person.password}
    answer = await web_client.post("/login", data=data)
    assert answer.status_code == 303


async def test_signed_in_forms_need_the_sessions_token(
    browser: Browser, web_client: httpx.AsyncClient, registry: Registry, person: Person
) -> None:
    await connect_app(registry, person.id, "desk", "Desk", ["llm.inference"])
    await browser.sign_in(person.email, person.password)
    page = await browser.get("/account/apps")
    good = form(page.text, "/account/apps/revoke")
    for bad in ({"client_id": "desk"}, good | {"csrf_token": "x" * 43}, good | {"csrf_token": ""}):
        _refused(
            await web_client.post("/account/apps/revoke", data=bad, headers={"Origin": ORIGIN})
        )
    _refused(await web_client.post("/account/apps/revoke", data=good, headers={"Origin": FOREIGN}))
    for bad in ({"other": "1"}, {"csrf_token": "x" * 43}):
        _refused(await web_client.post("/logout", data=bad, headers={"Origin": ORIGIN}))
    await _still_signed_in(browser)
    assert "Desk" in text((await browser.get("/account/apps")).text)  # still connected


async def test_another_sessions_token_does_not_do(
    browser: Browser, web_client: httpx.AsyncClient, registry: Registry, person: Person
) -> None:
    await browser.sign_in(person.email, person.password)
    mine = form((await browser.get("/logout")).text, "/logout")["csrf_token"]
    web_client.cookies.clear()
    await browser.sign_in(person.email, person.password)  # a second session, same user
    _refused(
        await web_client.post("/logout", data={"csrf_token": mine}, headers={"Origin": ORIGIN})
    )
    await _still_signed_in(browser)


@pytest.fixture
async def https_client(
    settings: Settings, registry: Registry, admin_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        settings.model_copy(update={"public_url": "https://id.example"}), registry=registry
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://id.example") as client:
        yield client


async def test_behind_https_cookies_are_secure_and_host_only(
    https_client: httpx.AsyncClient, person: Person
) -> None:
    browser = Browser(https_client, "https://id.example")
    page = await browser.get("/login")
    login_cookie = page.headers["set-cookie"]
    assert login_cookie.startswith("__Host-modelyard_login_csrf=")
    assert "Secure" in login_cookie
    answer = await browser.submit(
        page, "/login", {"email": person.email, "password": person.password}
    )
    assert answer.status_code == 303, answer.text
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("__Host-modelyard_session="))
    for flag in ("Secure", "HttpOnly", "Path=/"):
        assert flag in session
    assert "Domain" not in session
    assert (await browser.get("/account/apps")).status_code == 200
    # a plain-http origin is another site for an https issuer
    https_client.cookies.set("__Host-modelyard_login_csrf", "t" * 43)
    forged = await https_client.post(
        "/login",
        data={"csrf_token": "t" * 43, "email": person.email, "password": person.password},
        headers={"Origin": "http://id.example"},
    )
    _refused(forged)
