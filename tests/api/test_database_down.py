"""The admin API with its database out of reach answers 503 DEPENDENCY_UNAVAILABLE with
Retry-After, in JSON, never a 500 nor the driver's text (which may hold the database URL)."""

from __future__ import annotations

import httpx
import pytest

from modelyard.api.app import create_app
from modelyard.services import Registry
from modelyard.settings import Settings


@pytest.fixture
def down(settings: Settings, admin_key: str, tmp_path: object) -> Settings:
    """The same server's settings with its database gone: PostgreSQL on a port nobody
    listens on, or an SQLite file in a directory that does not exist."""
    if settings.is_sqlite:
        broken = f"sqlite+aiosqlite:///{tmp_path}/gone/modelyard.db"
    else:
        broken = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
    return settings.model_copy(update={"database_url": broken})


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/providers", None),
        ("POST", "/api/v1/users", {"email": "later@example.com"}),
        ("GET", "/api/v1/settings", None),
    ],
)
async def test_the_admin_api_answers_503_while_the_database_is_down(
    down: Settings, admin_key: str, method: str, path: str, body: object
) -> None:
    registry = Registry.open(down)
    try:
        app = create_app(down, registry=registry)
        # raise_app_exceptions (the default): the exception must be handled, not re-raised
        # to the server (which would log its traceback, perhaps with the database URL)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://modelyard.test") as c:
            reply = await c.request(
                method, path, json=body, headers={"Authorization": f"Bearer {admin_key}"}
            )
    finally:
        await registry.close()
    assert reply.status_code == 503, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    assert int(reply.headers["retry-after"]) >= 1
    error = reply.json()["error"]
    assert error["code"] == "DEPENDENCY_UNAVAILABLE"
    assert error["details"] == {"dependency": "database"}
    assert "127.0.0.1" not in reply.text
    assert "gone" not in reply.text


@pytest.mark.parametrize(
    ("method", "path", "form"),
    [
        ("GET", "/oauth/jwks", None),
        (
            "POST",
            "/oauth/token",
            {"grant_type": "refresh_token", "refresh_token": "myrt_x", "client_id": "app"},
        ),
        ("POST", "/oauth/device_authorization", {"client_id": "cli"}),
        ("GET", "/oauth/authorize?client_id=app&response_type=code", None),
        ("POST", "/login", {"email": "a@example.com", "password": "x" * 12, "csrf_token": "t"}),
        ("GET", "/account/apps", None),
    ],
)
async def test_sign_in_answers_503_while_the_database_is_down(
    down: Settings, method: str, path: str, form: dict[str, str] | None
) -> None:
    """Sign-in and the authorization server meet the same outage: 503 with Retry-After,
    never a 500, never the driver's text."""
    loopback = down.model_copy(update={"public_url": "http://127.0.0.1:4100"})
    registry = Registry.open(loopback)
    try:
        app = create_app(loopback, registry=registry)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:4100") as c:
            c.cookies.set("modelyard_session", "s" * 43)  # a browser signed in before
            c.cookies.set("modelyard_login_csrf", "t")  # and holding the sign-in form's token
            reply = await c.request(method, path, data=form)
    finally:
        await registry.close()
    assert reply.status_code == 503, reply.text
    assert int(reply.headers["retry-after"]) >= 1
    assert "127.0.0.1:1" not in reply.text
    assert "gone" not in reply.text


@pytest.mark.parametrize("path", ["/console", "/console/providers", "/account/apps", "/login"])
async def test_pages_answer_the_error_page_while_the_database_is_down(
    down: Settings, path: str
) -> None:
    """A person's browser gets the HTML error page (503, Retry-After, saying to try again),
    not the API's JSON; and still nothing of the driver's text."""
    loopback = down.model_copy(update={"public_url": "http://127.0.0.1:4100"})
    registry = Registry.open(loopback)
    try:
        app = create_app(loopback, registry=registry)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:4100") as c:
            c.cookies.set("modelyard_session", "s" * 43)
            c.cookies.set("modelyard_login_csrf", "t")
            form = {"email": "a@example.com", "password": "x" * 12, "csrf_token": "t"}
            if path == "/login":
                reply = await c.post(path, data=form)
            else:
                reply = await c.get(path)
    finally:
        await registry.close()
    assert reply.status_code == 503, reply.text
    assert reply.headers["content-type"].startswith("text/html")
    assert int(reply.headers["retry-after"]) >= 1
    assert "Temporarily unavailable" in reply.text
    assert "Try again in a few seconds" in reply.text
    assert "127.0.0.1:1" not in reply.text
    assert "gone" not in reply.text
    assert "DEPENDENCY_UNAVAILABLE" not in reply.text
