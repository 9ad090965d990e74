"""The CLI and the server find the same registry wherever they run: relative SQLite paths and
the key file live under MODELYARD_HOME, and only `init` / `serve` ever create a database."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner, Result

from modelyard.cli import app
from modelyard.settings import Settings
from tests.cli.test_serve import free_port
from tests.support import pg

TOKEN = re.compile(r"myk_[A-Za-z0-9_-]{20,}")
# How long a starting server may take before the test gives up on it: a guard against one
# that never answers, not a measure (it took 40 s on two busy cores).
STARTUP_TIMEOUT_S = 120
CLEAN_ENV = {
    "MODELYARD_DATABASE_URL": None,
    "MODELYARD_MASTER_KEY_FILE": None,
    "MODELYARD_MASTER_KEY": None,
    "MODELYARD_USAGE_OUTBOX": None,
    "COLUMNS": "200",
}


def cli(*args: str, **env: str | None) -> Result:
    result = CliRunner().invoke(app, list(args), env=CLEAN_ENV | env)
    assert "Traceback" not in result.output, result.output
    return result


def error_of(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    return " ".join(lines[0].split())


def process_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    return env | {"MODELYARD_HOME": str(home), "MODELYARD_LOG_LEVEL": "warning"}


@contextmanager
def server(home: Path, cwd: Path, extra: dict[str, str]) -> Iterator[tuple[str, str]]:
    """`modelyard serve` started in ``cwd``; yields its base URL and the printed admin key."""
    port = free_port()
    log = home.parent / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=process_env(home) | extra | {"PYTHONUNBUFFERED": "1"},
            cwd=cwd,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            key = TOKEN.search(log.read_text())
            assert key is not None, log.read_text()
            yield base, key.group()
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(params=["sqlite", "postgresql"])
def server_database(request: pytest.FixtureRequest, pg_database: str | None) -> dict[str, str]:
    """The server's database: SQLite at its default place in MODELYARD_HOME, or PostgreSQL."""
    if request.param == "sqlite":
        return {}
    if pg_database is None:
        pytest.skip(f"PostgreSQL not available: {pg.unavailable()}")
    asyncio.run(pg.reset(pg_database))
    return {"MODELYARD_DATABASE_URL": pg_database}


def test_cli_from_another_directory_reads_the_servers_registry(
    tmp_path: Path, server_database: dict[str, str]
) -> None:
    home, server_cwd, cli_cwd = (tmp_path / d for d in ("home", "server-cwd", "cli-cwd"))
    server_cwd.mkdir()
    cli_cwd.mkdir()
    with server(home, server_cwd, server_database) as (base, key):
        created = httpx.post(
            f"{base}/api/v1/providers",
            headers={"Authorization": f"Bearer {key}"},
            json={"name": "made-over-rest", "kind": "openai", "api_key": "sk-test-0123456789abcd"},
        )
        assert created.status_code == 201, created.text

        def cli_there(*args: str) -> Any:
            done = subprocess.run(
                [sys.executable, "-m", "modelyard.cli", *args, "--json"],
                env=process_env(home) | server_database,
                cwd=cli_cwd,
                capture_output=True,
                check=False,
            )
            assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
            return orjson.loads(done.stdout)

        names = [p["name"] for p in cli_there("providers", "list")["items"]]
        # the CLI opens the provider key the server sealed: it found the same master key
        checks = {c["name"]: c for c in cli_there("doctor")["checks"]}
    assert names == ["made-over-rest"]
    assert checks["sealed secrets"]["ok"], checks
    assert checks["sealed secrets"]["detail"].startswith("1 open")
    assert list(cli_cwd.iterdir()) == []
    assert list(server_cwd.iterdir()) == []
    assert (home / "modelyard.key").is_file()
    assert (home / "modelyard.db").is_file() == (not server_database)


def test_a_command_against_a_missing_database_creates_nothing_and_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "nowhere"
    message = error_of(cli("providers", "list", MODELYARD_HOME=str(home)))
    assert f"no database at {home / 'modelyard.db'}" in message
    assert "MODELYARD_HOME" in message
    assert "MODELYARD_DATABASE_URL" in message
    assert "run `modelyard init`" in message
    assert list(tmp_path.iterdir()) == []


def test_the_default_home_is_the_users_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELYARD_HOME")
    data = tmp_path / "xdg"
    message = error_of(cli("users", "list", XDG_DATA_HOME=str(data)))
    assert f"no database at {data / 'modelyard' / 'modelyard.db'}" in message
    assert "the default MODELYARD_HOME" in message
    assert list(tmp_path.iterdir()) == []

    assert cli("init", "--json", XDG_DATA_HOME=str(data)).exit_code == 0
    assert {"modelyard.db", "modelyard.key"} <= {p.name for p in (data / "modelyard").iterdir()}
    assert cli("users", "list", XDG_DATA_HOME=str(data)).exit_code == 0
    assert list(tmp_path.iterdir()) == [data]


def test_a_relative_sqlite_path_is_resolved_against_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    env = {"MODELYARD_HOME": str(home), "MODELYARD_DATABASE_URL": "sqlite+aiosqlite:///reg/x.db"}
    assert cli("init", **env).exit_code == 0
    assert (home / "reg" / "x.db").is_file()
    assert (home / "modelyard.key").is_file()
    assert cli("providers", "list", **env).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_an_empty_database_file_is_not_taken_for_a_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelyard.db").touch()  # what earlier versions left behind
    message = error_of(cli("providers", "list", MODELYARD_HOME=str(tmp_path)))
    assert f"the database file {tmp_path / 'modelyard.db'} is empty" in message


def test_a_database_where_earlier_versions_kept_it_is_pointed_out_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "old"
    old.mkdir()
    assert cli("init", MODELYARD_HOME=str(old)).exit_code == 0
    monkeypatch.chdir(old)
    monkeypatch.delenv("MODELYARD_HOME")
    data = {"XDG_DATA_HOME": str(tmp_path / "xdg")}

    message = error_of(cli("providers", "list", **data))
    assert f"set MODELYARD_HOME={old} or move it" in message
    message = error_of(cli("init", **data))
    assert f"not creating a new registry at {tmp_path / 'xdg' / 'modelyard'}" in message
    assert not (tmp_path / "xdg").exists()
    assert cli("providers", "list", MODELYARD_HOME=str(old)).exit_code == 0


@pytest.mark.parametrize("command", [("doctor",), ("chat", "hello"), ("keys", "list")])
def test_no_command_but_init_and_serve_creates_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(*command, MODELYARD_HOME=str(tmp_path / "home"))
    assert result.exit_code == 1
    assert "no database at" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("sqlite+aiosqlite:///modelyard.db", "HOME/modelyard.db"),
        ("sqlite+aiosqlite:///./sub/r.db?timeout=5", "HOME/sub/r.db"),
        ("sqlite+aiosqlite:////srv/r.db", "/srv/r.db"),
        ("sqlite+aiosqlite:///~/r.db", "USER/r.db"),
        ("sqlite+aiosqlite:///:memory:", None),
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/x", None),
    ],
)
def test_settings_resolve_a_sqlite_file_against_home(
    tmp_path: Path, url: str, file: str | None
) -> None:
    settings = Settings(home=tmp_path, database_url=url)
    expected = file and Path(file.replace("HOME", str(tmp_path)).replace("USER", str(Path.home())))
    assert settings.database_file == expected
    assert settings.master_key_file == tmp_path / "modelyard.key"
    if url.endswith("?timeout=5"):
        assert settings.database_url.endswith("?timeout=5")


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://host/x.db", "sqlite+aiosqlite://[bad"])
def test_a_sqlite_url_with_a_host_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="three slashes"):
        Settings(database_url=url)
