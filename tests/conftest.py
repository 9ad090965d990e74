"""Test databases: every test gets a fresh database on SQLite and on PostgreSQL.

SQLite: the schema is migrated once into a template file that each test copies.
PostgreSQL: one database per test run (created here, dropped at the end) migrated once; each
test starts from emptied tables. With CI=true a missing PostgreSQL fails the run; elsewhere
those tests are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from modelyard.api.app import create_app
from modelyard.bootstrap import bootstrap
from modelyard.db.engine import create_engine
from modelyard.db.migrate import upgrade_to_head
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.support import pg

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def _data_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MODELYARD_HOME in a temporary directory: no test reads or writes the user's own."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def _make() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade_to_head(engine)
        await engine.dispose()

    asyncio.run(_make())
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    reason = pg.unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        yield None
        return
    name = f"modelyard_test_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(pg.create_database(name))
    try:
        yield url
    finally:
        asyncio.run(pg.drop_database(name))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    pg_database: str | None,
) -> str:
    if request.param == "sqlite":
        path = tmp_path / "modelyard.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    if pg_database is None:
        pytest.skip(f"PostgreSQL not available: {pg.unavailable()}")
    asyncio.run(pg.reset(pg_database))
    return pg_database


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        master_key_file=tmp_path / "modelyard.key",
        admin_email="admin@example.com",
    )


@pytest.fixture
async def registry(settings: Settings) -> AsyncIterator[Registry]:
    reg = Registry.open(settings)
    yield reg
    await reg.close()


@pytest.fixture
async def admin_key(settings: Settings, registry: Registry) -> str:
    result = await bootstrap(settings, registry, migrate=False)
    assert result.admin_key is not None
    return result.admin_key


@pytest.fixture
async def admin(registry: Registry, admin_key: str) -> Actor:
    return await registry.keys.authenticate(admin_key)


@pytest.fixture
async def client(settings: Settings, registry: Registry) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://modelyard.test") as c:
        yield c
