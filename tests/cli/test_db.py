"""``modelyard db``: the documented upgrade and rollback keep the registry, bad targets change
nothing, and a database migrated by a newer version is refused with what to do."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from modelyard.api.app import create_app
from modelyard.db.engine import create_engine
from modelyard.db.migrate import head_revision
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.cli.conftest import ADMIN_EMAIL, Cli, sealed_keys
from tests.cli.test_serve import STARTUP_TIMEOUT_S
from tests.conftest import IN_CI
from tests.support import pg
from tests.support.mock_openai import mock_openai
from tests.support.served import chat_call, operator_cli, registry_for, served, server_env

PROVIDER_KEY = "sk-rollback-test-0123456789"


@pytest.fixture(params=["sqlite", "postgresql"])
def own(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cli]:
    """The CLI on a database of this test alone (its schema is moved up and down), not the
    run's shared PostgreSQL database."""
    if request.param == "sqlite":
        yield Cli(f"sqlite+aiosqlite:///{tmp_path / 'own.db'}", tmp_path / "modelyard.key")
        return
    reason = pg.unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(f"PostgreSQL not available: {reason}")
    name = f"modelyard_db_cli_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(pg.create_database(name))
    try:
        yield Cli(url, tmp_path / "modelyard.key")
    finally:
        asyncio.run(pg.drop_database(name))


def _set_revision(url: str, revision: str) -> None:
    async def _set() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE alembic_version SET version_num = :r"), {"r": revision}
                )
        finally:
            await engine.dispose()

    asyncio.run(_set())


def _readiness(url: str) -> tuple[int, Any]:
    """GET /health/ready of a server on that database (what a load balancer asks)."""

    async def _get() -> tuple[int, Any]:
        settings = Settings(database_url=url)
        registry = Registry.open(settings)
        try:
            transport = httpx.ASGITransport(app=create_app(settings, registry=registry))
            async with httpx.AsyncClient(transport=transport, base_url="http://yard") as client:
                reply = await client.get("/health/ready")
                return reply.status_code, reply.json()
        finally:
            await registry.close()

    return asyncio.run(_get())


def _doctor(cli: Cli) -> dict[str, Any]:
    report = cli.json("doctor")
    return {c["name"]: c for c in report["checks"]}


def _password_hashes(url: str) -> list[bool]:
    async def _read() -> list[bool]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT password_hash IS NOT NULL FROM users"))
                return [bool(r[0]) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(_read())


def test_downgrade_then_upgrade_keeps_keys_users_and_the_audit_chain(own: Cli) -> None:
    """Across 0008 the documented losses, and only those: passwords, and the scopes the old
    vocabulary had no word for (credits.read, user.info fold into registry:read)."""
    admin_key = own.json("init")["admin_key"]
    own.ok(
        "providers", "add", "--name", "up", "--kind", "openai_compatible",
        "--base-url", "http://127.0.0.1:9/v1", "--api-key-stdin", input=f"{PROVIDER_KEY}\n",
    )  # fmt: skip
    own.ok("users", "set-password", ADMIN_EMAIL, "--password-stdin", input="a long passphrase 1\n")
    assert _password_hashes(own.database_url) == [True]
    sealed, keys = sealed_keys(own.database_url), own.json("keys", "list")
    assert len(sealed) == 1

    assert own.json("db", "downgrade", "0007", "--yes") == {"from": head_revision(), "to": "0007"}
    assert own.json("db", "status") == {
        "revision": "0007",
        "head": head_revision(),
        "at_head": False,
    }
    assert sealed_keys(own.database_url) == sealed
    status, body = _readiness(own.database_url)  # this version on a schema behind it
    assert status == 503
    assert "0007" in body["checks"]["migrations"]
    assert own.json("db", "upgrade") == {"from": "0007", "to": head_revision()}

    assert sealed_keys(own.database_url) == sealed
    assert _readiness(own.database_url)[0] == 200
    assert _password_hashes(own.database_url) == [False]
    lost = {"credits.read", "user.info"}
    assert lost <= set(keys[0]["scopes"])
    assert own.json("keys", "list") == [
        k | {"scopes": sorted(set(k["scopes"]) - lost)} for k in keys
    ]
    checks = _doctor(own)
    assert all(c["ok"] for c in checks.values()), checks
    assert checks["sealed secrets"]["detail"].startswith("1 open")
    assert admin_key is not None
    assert admin_key not in str(checks)


def test_a_database_from_a_newer_version_is_refused_with_what_to_do(own: Cli) -> None:
    own.ok("init")
    _set_revision(own.database_url, "0999")
    try:
        for command in (("db", "upgrade"), ("db", "downgrade", "0007", "--yes"), ("init",)):
            message = own.fails(*command)
            assert "revision 0999" in message
            assert "a newer version migrated it" in message
            assert f"modelyard db downgrade {head_revision()}" in message
        assert own.json("db", "status")["revision"] == "0999"
    finally:
        _set_revision(own.database_url, head_revision())


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("downgrade", "0042", "--yes"), "'0042' is not a revision"),
        (("upgrade", "0007"), "0007 is older than the database's revision"),
        (("upgrade", "; DROP TABLE users"), "is not a revision"),
    ],
    ids=["unknown", "backwards", "hostile"],
)
def test_bad_targets_change_nothing(ready: Cli, args: tuple[str, ...], expected: str) -> None:
    assert expected in ready.fails("db", *args)
    assert ready.json("db", "status")["at_head"] is True


def test_downgrade_asks_first(ready: Cli) -> None:
    result = ready("db", "downgrade", "0007", input="n\n")
    assert result.exit_code == 1
    assert "aborted" in result.stderr
    assert ready.json("db", "status")["at_head"] is True


def test_db_commands_never_create_a_registry(tmp_path: Path) -> None:
    cli = Cli(f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}", tmp_path / "modelyard.key")
    for command in (("db", "status"), ("db", "upgrade"), ("db", "backup", str(tmp_path / "b"))):
        assert "no database at" in cli.fails(*command)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_replica_behind_the_schema_is_not_ready_until_db_upgrade(tmp_path: Path) -> None:
    """The rolling upgrade as documented: a new-version server with MODELYARD_AUTO_MIGRATE
    off on a schema behind it starts, answers 503, and serves once `db upgrade` has run,
    without a restart."""
    home = tmp_path / "home"
    with mock_openai() as upstream:
        admin_key = registry_for(operator_cli(home), upstream)
        operator_cli(home).ok("db", "downgrade", "0008", "--yes")
        env = server_env(home) | {"MODELYARD_AUTO_MIGRATE": "false"}
        with served(env, tmp_path / "serve.log", until="/health") as url:
            behind = httpx.get(f"{url}/health/ready", timeout=10)
            assert behind.status_code == 503
            assert "0008" in behind.json()["checks"]["migrations"]
            operator_cli(home).ok("db", "upgrade")
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while httpx.get(f"{url}/health/ready", timeout=10).status_code != 200:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
            reply = chat_call(url, admin_key)
            assert reply.status_code == 200, reply.text


def test_downgrading_to_the_first_revision_and_back_keeps_every_row(own: Cli) -> None:
    """On SQLite a batch migration copies a table and drops the old one: with foreign keys
    on, the drop deleted every model (0004) and every API key (0003)."""
    own.ok("init")
    own.ok(
        "providers", "add", "--name", "up", "--kind", "openai_compatible",
        "--base-url", "http://127.0.0.1:9/v1", "--api-key-stdin", input=f"{PROVIDER_KEY}\n",
    )  # fmt: skip
    own.ok("models", "add", "--provider", "up", "--model-id", "m1")
    sealed, models = sealed_keys(own.database_url), own.json("models", "list")["items"]
    assert len(models) == 1
    assert own.json("db", "downgrade", "0001", "--yes")["to"] == "0001"
    assert own.json("db", "upgrade")["to"] == head_revision()
    assert sealed_keys(own.database_url) == sealed
    assert [m["id"] for m in own.json("models", "list")["items"]] == [m["id"] for m in models]
    assert len(own.json("keys", "list")) == 1
    assert _doctor(own)["audit trail"]["ok"] is True
