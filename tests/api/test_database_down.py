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
