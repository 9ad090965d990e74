"""The backup and restore of docs/deployment.md, done as written: a running server's registry
and its master key copied, restored somewhere new, started, and a provider's sealed key opens
there (a /v1 call reaches the mock upstream with it) and the audit chain verifies.

SQLite: ``modelyard db backup`` while the server answers calls. PostgreSQL: ``pg_dump -Fc``
and ``pg_restore`` into a new database of this test's own (both dropped at the end).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Cli
from tests.cli.test_serve import STARTUP_TIMEOUT_S, free_port
from tests.conftest import IN_CI
from tests.support import pg
from tests.support.mock_openai import GOOD_KEY, MockOpenAI, mock_openai

MODEL = "up/mock-1"


def _env(home: Path, database_url: str | None = None) -> dict[str, str]:
    """A server's environment: MODELYARD_HOME (and a PostgreSQL URL), nothing inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env |= {"MODELYARD_HOME": str(home), "MODELYARD_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"}
    if database_url is not None:
        env["MODELYARD_DATABASE_URL"] = database_url
    return env


def _cli(home: Path, database_url: str | None = None) -> Cli:
    """The CLI as an operator runs it on that machine: MODELYARD_HOME and nothing else."""
    cli = Cli(database_url or "", home / "modelyard.key")
    cli.env |= {
        "MODELYARD_HOME": str(home),
        "MODELYARD_DATABASE_URL": database_url,
        "MODELYARD_MASTER_KEY_FILE": None,
        "MODELYARD_USAGE_OUTBOX": None,
    }
    return cli


@contextmanager
def served(env: dict[str, str], log: Path) -> Iterator[str]:
    """`modelyard serve` on a free port until the block ends; its base URL."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not _ready(url):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"not up\n{log.read_text()}"
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _call(url: str, api_key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {api_key}"},
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )


def _registry(cli: Cli, upstream: MockOpenAI) -> str:
    """A provider whose sealed key the upstream accepts, a model, and the admin's API key."""
    admin_key: str = cli.json("init")["admin_key"]
    cli.ok(
        "providers", "add", "--name", "up", "--kind", "openai_compatible",
        "--base-url", upstream.url, "--api-key-stdin", input=f"{GOOD_KEY}\n",
    )  # fmt: skip
    cli.ok("models", "add", "--provider", "up", "--model-id", "mock-1")
    return admin_key


def _restore_key(old_home: Path, new_home: Path) -> None:
    """`install -m 0600 OLD/modelyard.key NEW/modelyard.key`, as the page says."""
    new_home.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(
        ["install", "-m", "0600", old_home / "modelyard.key", new_home / "modelyard.key"],
        check=True,
    )


def _answers_through_the_restored_key(url: str, admin_key: str, upstream: MockOpenAI) -> None:
    before = len(upstream.received)
    reply = _call(url, admin_key)
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "Hello from the mock upstream."
    assert len(upstream.received) == before + 1  # it went upstream, with GOOD_KEY (else 401)


def test_sqlite_backup_of_a_running_server_restores_into_a_fresh_home(tmp_path: Path) -> None:
    old, new, shelf = tmp_path / "old", tmp_path / "new", tmp_path / "shelf"
    shelf.mkdir()
    with mock_openai() as upstream:
        admin_key = _registry(_cli(old), upstream)
        with served(_env(old), tmp_path / "old.log") as url:
            _answers_through_the_restored_key(url, admin_key, upstream)
            failures: list[int] = []
            stop = threading.Event()

            def steady_calls() -> None:  # the server keeps writing usage during the backup
                while not stop.is_set():
                    status = _call(url, admin_key).status_code
                    if status != 200:
                        failures.append(status)

            caller = threading.Thread(target=steady_calls)
            caller.start()
            try:
                _cli(old).ok("db", "backup", str(shelf / "modelyard.db"))
            finally:
                stop.set()
                caller.join()
            assert failures == []
            assert len(upstream.received) > 1
        _restore_key(old, new)
        subprocess.run(
            ["install", "-m", "0600", shelf / "modelyard.db", new / "modelyard.db"], check=True
        )
        with served(_env(new), tmp_path / "new.log") as url:
            _answers_through_the_restored_key(url, admin_key, upstream)
        assert "intact" in _cli(new).ok("audit", "verify").stdout


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
        admin_key = _registry(_cli(old, pg.url_for(original)), upstream)
        _pg("pg_dump", "--format=custom", f"--file={dump}", original)
        _pg("createdb", restored)
        _pg("pg_restore", "--exit-on-error", "--no-owner", f"--dbname={restored}", dump)
        _restore_key(old, new)
        with served(_env(new, pg.url_for(restored)), tmp_path / "new.log") as url:
            _answers_through_the_restored_key(url, admin_key, upstream)
        assert "intact" in _cli(new, pg.url_for(restored)).ok("audit", "verify").stdout
