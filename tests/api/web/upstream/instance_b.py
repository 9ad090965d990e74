"""A second modelyard, B, as the upstream OpenID provider of the app under test, A.

B is a real server (`modelyard serve` in a child process on a free 127.0.0.1 port) with its
own SQLite database, prepared before it starts: bootstrapped, and holding a confidential OAuth
client for A whose redirect URI is A's callback. People are added to B over its REST API with
its admin key. The browser drives both: A through its ASGI app, B over the network."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from modelyard.bootstrap import bootstrap
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_client_specs import OAuthClientCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.oauth.flows import consent_form
from tests.api.web.browser import form

A_ORIGIN = "https://a.modelyard.test"
A_CALLBACK = f"{A_ORIGIN}/login/upstream/callback"
CLIENT_ID = "modelyard-a"
# How long B may take to start before the test gives up on it: a guard against a server that
# never answers, not a measure (a start took 40 s on two busy cores).
STARTUP_TIMEOUT_S = 120
_serial = itertools.count(1)


@dataclass(frozen=True)
class BPerson:
    """Someone with an account and a password at B."""

    id: str
    email: str
    password: str


@dataclass
class InstanceB:
    issuer: str
    admin_key: str
    client_secret: str
    process: subprocess.Popen[bytes]

    def person(self, *, email: str | None = None, verified: bool = True) -> BPerson:
        """A new user at B with a password (their email verified at B unless told)."""
        email = email or f"b-person{next(_serial)}@example.com"
        password = f"correct horse battery staple {email}"
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        with httpx.Client(base_url=self.issuer, headers=headers, trust_env=False) as http:
            body = {"email": email, "display_name": "B Person", "email_verified": verified}
            made = http.post("/api/v1/users", json=body)
            assert made.status_code == 201, made.text
            user_id = made.json()["id"]
            put = http.put(f"/api/v1/users/{user_id}/password", json={"password": password})
            assert put.status_code == 204, put.text
        return BPerson(user_id, email, password)

    def rotate_signing_key(self) -> str:
        """B's ID tokens are signed by a new key from now on; its ``kid``."""
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        with httpx.Client(base_url=self.issuer, headers=headers, trust_env=False) as http:
            answer = http.post("/api/v1/oauth/signing-keys/rotate")
            assert answer.status_code in (200, 201), answer.text
            kid: str = answer.json()["kid"]
            return kid


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _prepare(settings: Settings) -> tuple[str, str]:
    registry = Registry.open(settings)
    try:
        result = await bootstrap(settings, registry)
        assert result.admin_key is not None
        made = await registry.oauth_clients.create(
            Actor.operator(),
            OAuthClientCreate(
                client_id=CLIENT_ID,
                name="Modelyard A",
                client_type="confidential",
                redirect_uris=[A_CALLBACK],
                grant_types=["authorization_code", "refresh_token"],
                scopes=["openid", "email", "profile"],
            ),
        )
        assert made.client_secret is not None
        return result.admin_key, made.client_secret
    finally:
        await registry.close()


def start(home: Path) -> InstanceB:
    """Prepare B's database in ``home`` and start B; it answers before this returns."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        "MODELYARD_HOME": str(home),
        "MODELYARD_HOST": "127.0.0.1",
        "MODELYARD_PORT": str(port),
        "MODELYARD_DATABASE_URL": "sqlite+aiosqlite:///b.db",
        "MODELYARD_ADMIN_EMAIL": "admin@b.example.com",
        "MODELYARD_BILLING_INTERVAL_S": "0",
        "MODELYARD_LOG_LEVEL": "warning",
    }
    settings = Settings(**{k.removeprefix("MODELYARD_").lower(): v for k, v in env.items()})
    admin_key, secret = asyncio.run(_prepare(settings))
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    with (home / "b.log").open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli", "serve"],
            env=child_env | env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("B stopped: " + (home / "b.log").read_text()[-2000:])
        try:
            if httpx.get(f"{issuer}/health", trust_env=False, timeout=1).status_code == 200:
                return InstanceB(issuer, admin_key, secret, process)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"B did not start within {STARTUP_TIMEOUT_S} s")


def stop(instance: InstanceB) -> None:
    instance.process.terminate()
    try:
        instance.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        instance.process.kill()
        instance.process.wait()


async def through_b(
    http: httpx.AsyncClient, start_url: str, person: BPerson, decision: str = "approve"
) -> str:
    """Follow the browser from ``start_url`` (A's upstream sign-in) through B's sign-in and
    consent pages; the URL B sends the browser back to (A's callback)."""
    answer = await http.get(start_url)
    for _ in range(12):
        if answer.status_code in (302, 303):
            location = urljoin(str(answer.url), answer.headers["location"])
            if location.startswith(A_ORIGIN):
                return location
            answer = await http.get(location)
            continue
        assert answer.status_code == 200, answer.text
        origin = f"{answer.url.scheme}://{answer.url.netloc.decode()}"
        headers = {"Origin": origin, "Referer": str(answer.url)}
        if urlsplit(str(answer.url)).path == "/login":  # B's sign-in page
            typed = {"email": person.email, "password": person.password}
            data = form(answer.text, "/login") | typed
            answer = await http.post(f"{origin}/login", data=data, headers=headers)
        else:  # B's consent page
            action, fields = consent_form(answer.text)
            data = fields | {"decision": decision}
            answer = await http.post(origin + action, data=data, headers=headers)
    raise AssertionError("B did not send the browser back to A")
