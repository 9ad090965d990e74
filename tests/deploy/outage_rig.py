"""Services of the test's own for outage tests: a PostgreSQL (initdb in a temporary
directory, fsync off) and a Redis that the test may stop, restart and kill, never the
machine's, and replicas that are real ``modelyard serve`` processes on them.

Ports come from 41600-41699 (the range of these tests on a shared machine), probed free
before use. Every process is stopped, and every directory removed, on every exit.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

PORTS = range(41600, 41700)
# A guard against a server that never answers, not a measure (starts take 40 s on two
# busy cores).
START_TIMEOUT_S = 120
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-At", "-v", "ON_ERROR_STOP=1"]
KEY = re.compile(r"myk_[A-Za-z0-9_-]{20,}")
_taken: set[int] = set()


def free_port() -> int:
    """A port of :data:`PORTS` that nothing listens on (nor was handed out before)."""
    for port in PORTS:
        if port in _taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken.add(port)
        return port
    raise RuntimeError("no free port in 41600-41699")


def wait_until(what: str, ready: Any, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


@contextmanager
def scratch(owner: str | None = None) -> Iterator[Path]:
    """A temporary directory (owned by ``owner`` when running as root), removed on exit."""
    path = Path(tempfile.mkdtemp(prefix="modelyard-outage-"))
    try:
        if owner is not None and os.geteuid() == 0:
            user = pwd.getpwnam(owner)
            os.chown(path, user.pw_uid, user.pw_gid)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _as_owner(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: then as the ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class Postgres:
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/modelyard"

    def ctl(self, *args: str) -> None:
        log = self.data.parent / "pg.log"
        subprocess.run(
            _as_owner(["pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", *args]),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self.ctl("start")

    def stop(self) -> None:
        self.ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self.ctl("restart", "-m", "fast")

    def sql(self, statement: str, database: str = "modelyard") -> str:
        done = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                statement,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()


@contextmanager
def own_postgres() -> Iterator[Postgres]:
    """A fresh cluster with a ``modelyard`` database, fast and unsafe (fsync off)."""
    with scratch("postgres") as home:
        data = home / "data"
        subprocess.run(
            _as_owner(["initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]),
            check=True,
            capture_output=True,
        )
        pg = Postgres(data, free_port())
        settings = {
            "port": str(pg.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{home}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
        }
        with (data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        pg.start()
        try:
            pg.sql("CREATE DATABASE modelyard", database="postgres")
            yield pg
        finally:
            subprocess.run(
                _as_owner(["pg_ctl", "-D", str(data), "stop", "-m", "immediate"]),
                capture_output=True,
                check=False,
            )


@dataclass
class Redis:
    home: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """A new, empty server (nothing is saved) on the same port."""
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.home)]
        with (self.home / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_until("redis to answer", self._answers, 30)

    def _answers(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, "redis exited"
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextmanager
def own_redis() -> Iterator[Redis]:
    with scratch() as home:
        redis = Redis(home, free_port())
        try:
            redis.start()
            yield redis
        finally:
            redis.kill()


@dataclass
class Replica:
    name: str
    base: str
    log: Path
    process: subprocess.Popen[bytes]
    output: str = ""  # all the log, once the process has stopped

    def ready(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.base}/health/ready", timeout=10)
        body: dict[str, Any] = answer.json()
        body["http_status"] = answer.status_code
        return body


@contextmanager
def replica(name: str, home: Path, env: dict[str, str]) -> Iterator[Replica]:
    """``modelyard serve`` with ``env`` (its own outbox), terminated (SIGTERM: usage is
    flushed) on exit, killed if it does not stop."""
    port = free_port()
    log = home / f"{name}.log"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")},
        "MODELYARD_HOME": str(home),
        "MODELYARD_USAGE_OUTBOX": str(home / f"{name}.outbox"),
        "MODELYARD_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    server = Replica(name, f"http://127.0.0.1:{port}", log, process)
    try:

        def answers() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return httpx.get(f"{server.base}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(f"{name} to start", answers)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.output = log.read_text()


@contextmanager
def two_replicas(env: dict[str, str]) -> Iterator[tuple[list[Replica], str]]:
    """Two replicas sharing ``env`` (database, Redis, master key file); the first one
    bootstraps the database. Yields them and the admin's key."""
    with ExitStack() as stack:
        home = stack.enter_context(scratch())
        first = stack.enter_context(replica("a", home, env))
        found = KEY.search(first.log.read_text())
        assert found is not None, first.log.read_text()
        second = stack.enter_context(replica("b", home, env))
        yield [first, second], found.group(0)
