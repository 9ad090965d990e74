"""A real ``modelyard serve`` for the console's browser tests: SQLite in a temporary
directory, a free port of 127.0.0.1, an admin and a member who can sign in with a
password, and the mock OpenAI-compatible upstream (:mod:`tests.support.mock_openai`).
``Site.api`` calls the REST API for a test's setup and its checks of what a page did."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.mock_openai import MockOpenAI, mock_openai

KEY = re.compile(r"myk_[A-Za-z0-9_-]{20,}")
# How long a starting server may take before the test gives up on it: a guard against one
# that never answers, not a measure (it took 40 s on two busy cores).
STARTUP_TIMEOUT_S = 120
ADMIN_PASSWORD = "console admin passphrase 1"
MEMBER_PASSWORD = "console member passphrase 1"


@dataclass
class Person:
    email: str
    password: str
    user_id: str
    role: str


@dataclass
class Site:
    base: str
    admin_key: str
    admin: Person
    member: Person
    upstream: MockOpenAI
    log: Path

    def api(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        ok: bool = True,
    ) -> httpx.Response:
        """``method path`` with ``key`` (default: the admin key); with ``ok`` a failure
        fails the test, naming the answer."""
        answer = httpx.request(
            method,
            f"{self.base}{path}",
            headers={"Authorization": f"Bearer {key or self.admin_key}"},
            json=json,
            params=params,
            timeout=30,
        )
        if ok:
            assert answer.status_code < 400, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer

    def key_for(self, person: Person, name: str = "test key") -> str:
        """A new API key of ``person`` (made by the admin), its secret."""
        made = self.api("POST", "/api/v1/keys", json={"name": name, "user_id": person.user_id})
        secret: str = made.json()["key"]
        return secret


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def _people(site_base: str, admin_key: str) -> tuple[Person, Person]:
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=site_base, headers=headers, timeout=30) as http:
        me = http.get("/api/v1/users/me").json()
        made = http.post(
            "/api/v1/users",
            json={"email": "member@example.com", "display_name": "Mia Member", "role": "member"},
        )
        assert made.status_code == 201, made.text
        member = made.json()
        for user_id, password in ((me["id"], ADMIN_PASSWORD), (member["id"], MEMBER_PASSWORD)):
            done = http.put(f"/api/v1/users/{user_id}/password", json={"password": password})
            assert done.status_code == 204, done.text
    return (
        Person(me["email"], ADMIN_PASSWORD, me["id"], "admin"),
        Person(member["email"], MEMBER_PASSWORD, member["id"], "member"),
    )


@contextmanager
def console_site(directory: Path, extra_env: dict[str, str] | None = None) -> Iterator[Site]:
    """The server and the upstream, stopped on exit (the server's log must hold no
    traceback, and no key the test made must be in it)."""
    port = _free_port()
    env = {
        **os.environ,
        "MODELYARD_DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'console.db'}",
        "MODELYARD_MASTER_KEY_FILE": str(directory / "serve.key"),
        "MODELYARD_USAGE_OUTBOX": str(directory / "usage.outbox"),
        "MODELYARD_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    for name in ("MODELYARD_MASTER_KEY", "MODELYARD_REDIS_URL"):
        env.pop(name, None)
    log = directory / "serve.log"
    base = f"http://127.0.0.1:{port}"
    with mock_openai() as upstream, log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            _wait(process, base, log)
            found = KEY.search(log.read_text())
            assert found is not None, log.read_text()
            admin, member = _people(base, found.group(0))
            yield Site(base, found.group(0), admin, member, upstream, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    text = log.read_text()
    assert "Traceback" not in text, text
