"""The backup and restore of docs/deployment.md, done as written: a running server's registry
and its master key copied, restored somewhere new, started, and a provider's sealed key opens
there (a /v1 call reaches the mock upstream with it) and the audit chain verifies.

SQLite: ``modelyard db backup`` while the server answers calls. PostgreSQL: ``pg_dump -Fc``
and ``pg_restore`` into a new database of this test's own (both dropped at the end).
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.support import pg
from tests.support.mock_openai import MockOpenAI, mock_openai
from tests.support.served import chat_call, operator_cli, registry_for, served, server_env


def _restore_key(old_home: Path, new_home: Path) -> None:
    """`install -m 0600 OLD/modelyard.key NEW/modelyard.key`, as the page says."""
    new_home.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(
        ["install", "-m", "0600", old_home / "modelyard.key", new_home / "modelyard.key"],
        check=True,
    )


def _answers_through_the_restored_key(url: str, admin_key: str, upstream: MockOpenAI) -> None:
    before = len(upstream.received)
    reply = chat_call(url, admin_key)
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "Hello from the mock upstream."
    assert len(upstream.received) == before + 1  # it went upstream, with GOOD_KEY (else 401)


def test_sqlite_backup_of_a_running_server_restores_into_a_fresh_home(tmp_path: Path) -> None:
    old, new, shelf = tmp_path / "old", tmp_path / "new", tmp_path / "shelf"
    shelf.mkdir()
    with mock_openai() as upstream:
        admin_key = registry_for(operator_cli(old), upstream)
        with served(server_env(old), tmp_path / "old.log") as url:
            _answers_through_the_restored_key(url, admin_key, upstream)
            failures: list[int] = []
            stop = threading.Event()

            def steady_calls() -> None:  # the server keeps writing usage during the backup
                while not stop.is_set():
                    status = chat_call(url, admin_key).status_code
                    if status != 200:
                        failures.append(status)

            caller = threading.Thread(target=steady_calls)
            caller.start()
            try:
                operator_cli(old).ok("db", "backup", str(shelf / "modelyard.db"))
            finally:
                stop.set()
                caller.join()
            assert failures == []
            assert len(upstream.received) > 1
        _restore_key(old, new)
        subprocess.run(
            ["install", "-m", "0600", shelf / "modelyard.db", new / "modelyard.db"], check=True
        )
        with served(server_env(new), tmp_path / "new.log") as url:
            _answers_through_the_restored_key(url, admin_key, upstream)
        assert "intact" in operator_cli(new).ok("audit", "verify").stdout
        assert operator_cli(new).json("doctor")["ok"] is True


@pytest.fixture
def pg_names() -> Iterator[tuple[str, str]]:
    """Two database names of this test's own (the original, the restored), dropped after."""
    reason = pg.unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(f"PostgreSQL not available: {reason}")
    tag = uuid.uuid4().hex[:12]
    names = (f"modelyard_backup_{tag}", f"modelyard_restored_{tag}")
    try:
        yield names
    finally:
        for name in names:
            asyncio.run(pg.drop_database(name))


def _pg(*args: str | Path) -> None:
    connection = ["-h", pg.HOST, "-p", str(pg.PORT), "-U", pg.USER]
    done = subprocess.run(
        [args[0], *connection, *args[1:]], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_postgresql_pg_dump_restores_into_a_new_database(
    tmp_path: Path, pg_names: tuple[str, str]
) -> None:
    original, restored = pg_names
    old, new, dump = tmp_path / "old", tmp_path / "new", tmp_path / "registry.dump"
    with mock_openai() as upstream:
        _pg("createdb", original)
        admin_key = registry_for(operator_cli(old, pg.url_for(original)), upstream)
        _pg("pg_dump", "--format=custom", f"--file={dump}", original)
        _pg("createdb", restored)
        _pg("pg_restore", "--exit-on-error", "--no-owner", f"--dbname={restored}", dump)
        _restore_key(old, new)
        with served(server_env(new, pg.url_for(restored)), tmp_path / "new.log") as url:
            _answers_through_the_restored_key(url, admin_key, upstream)
        assert "intact" in operator_cli(new, pg.url_for(restored)).ok("audit", "verify").stdout
        assert operator_cli(new, pg.url_for(restored)).json("doctor")["ok"] is True
