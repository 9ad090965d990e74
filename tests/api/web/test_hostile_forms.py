"""Whatever a client posts to the pages gets a clear 4xx page and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from modelyard.db.auth_tables import LoginFailure, WebSession
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.api.web.browser import ORIGIN, Browser, form
from tests.api.web.conftest import Person


async def _rows(registry: Registry) -> tuple[int, int]:
    async with registry.db.read(Actor.operator()) as tx:
        sessions = await tx.session.scalar(select(func.count()).select_from(WebSession))
        failures = await tx.session.scalar(select(func.count()).select_from(LoginFailure))
    return sessions or 0, failures or 0


async def _login_fields(browser: Browser) -> dict[str, str]:
    return form((await browser.get("/login")).text, "/login")


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"email": "a\x00@example.com", "password": "whatever it is"}, 400),
        ({"email": "a@example.com", "password": "nul\x00inside"}, 400),
        ({"email": "x" * 5000 + "@example.com", "password": "p"}, 401),
        ({"email": "a@example.com", "password": "p" * 1001}, 401),
        ({"email": "", "password": ""}, 400),
        ({"email": "a@example.com", "next": "/" + "a" * 3000, "password": "p"}, 401),
        ({f"f{n}": "v" for n in range(30)}, 400),
        ({"email": "a@example.com", "password": "p" * 20_000}, 413),
    ],
)
async def test_odd_login_forms(
    browser: Browser,
    web_client: httpx.AsyncClient,
    registry: Registry,
    person: Person,
    fields: dict[str, str],
    status: int,
) -> None:
    data = await _login_fields(browser) | fields
    before = await _rows(registry)
    answer = await web_client.post("/login", data=data, headers={"Origin": ORIGIN})
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "modelyard_session" not in web_client.cookies
    sessions, failures = await _rows(registry)
    assert sessions == before[0]
    assert failures <= before[1] + 1


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"email": "a@example.com"}', "application/json", 415),
        (b"email=a", "text/plain", 415),
        (b"email=%FF%FE%00&password=%ED%A0%80", "application/x-www-form-urlencoded", 400),
        (b"\xff\xfe=\xff", "application/x-www-form-urlencoded", 400),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x", 400),
        (
            b'--x\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n'
            b"\r\nhi\r\n--x--\r\n",
            "multipart/form-data; boundary=x",
            400,
        ),
    ],
)
async def test_odd_bodies(
    browser: Browser,
    web_client: httpx.AsyncClient,
    registry: Registry,
    content: bytes,
    content_type: str,
    status: int,
) -> None:
    await browser.get("/login")
    before = await _rows(registry)
    answer = await web_client.post(
        "/login", content=content, headers={"Content-Type": content_type, "Origin": ORIGIN}
    )
    assert answer.status_code in {status, 403}, answer.text  # unreadable, or no valid token
    assert answer.headers["content-type"].startswith("text/html")
    assert await _rows(registry) == before


async def test_a_lying_content_length_is_refused(web_client: httpx.AsyncClient) -> None:
    answer = await web_client.post(
        "/login",
        content=b"email=a",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "9" * 30},
    )
    assert 400 <= answer.status_code < 500


async def test_a_chunked_body_is_not_read_past_the_limit(web_client: httpx.AsyncClient) -> None:
    """Without a Content-Length, the form is read only until it is too large: a client
    streaming megabytes does not make the server hold them."""
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b"email=a%40example.com&password="
        for _ in range(1000):  # 64 MB if it were all read
            sent += 64 * 1024
            yield b"p" * (64 * 1024)

    answer = await web_client.post(
        "/login",
        content=endless(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN},
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert sent <= 256 * 1024


async def test_odd_cookies_are_no_session(web_client: httpx.AsyncClient, browser: Browser) -> None:
    for value in ("", "x", "y" * 5000, "%00", "%C3%A9"):
        web_client.cookies.set("modelyard_session", value)
        answer = await browser.get("/account/apps")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")


async def test_static_files_are_ours_only(web_client: httpx.AsyncClient) -> None:
    css = await web_client.get("/static/modelyard.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    for path in ("/static/../pyproject.toml", "/static/%2e%2e%2fapp.py", "/static/nothing.css"):
        answer = await web_client.get(path)
        assert answer.status_code == 404, path
