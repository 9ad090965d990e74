"""Device sign-in, revocation and introspection through the real app, as a CLI, a browser
and a resource server would: an app whose issuer is a loopback http URL (OAuth refuses
plain http elsewhere), OAuth clients made by the registry's own service, a moved clock."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from modelyard.api.app import create_app
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_clients import OAuthClientCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.web.browser import Browser
from tests.api.web.conftest import Person, make_person
from tests.support.client_rows import DEVICE_GRANT, Clock

ISSUER = "http://127.0.0.1:8400"
OPERATOR = Actor.operator()
CLI_SCOPES = ["llm.inference", "models.read", "user.info", "offline_access"]


@pytest.fixture
def clock(registry: Registry) -> Clock:
    moved = Clock()
    registry.db.clock = moved
    return moved


@pytest.fixture
async def http(
    settings: Settings, registry: Registry, admin_key: str, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"public_url": ISSUER}), registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        yield client


@pytest.fixture
def browser(http: httpx.AsyncClient) -> Browser:
    return Browser(http, ISSUER)


@pytest.fixture
async def person(registry: Registry) -> Person:
    return await make_person(registry)


async def make_client(
    registry: Registry,
    client_id: str,
    *,
    grants: list[str] | None = None,
    scopes: list[str] | None = None,
    confidential: bool = False,
) -> str | None:
    """An OAuth client made as an admin would; returns its secret when confidential."""
    spec = OAuthClientCreate(
        client_id=client_id,
        name=client_id.replace("-", " ").title(),
        client_type="confidential" if confidential else "public",
        grant_types=grants if grants is not None else [DEVICE_GRANT, "refresh_token"],
        scopes=scopes if scopes is not None else CLI_SCOPES,
        redirect_uris=["https://app.example/callback"]
        if "authorization_code" in (grants or [])
        else [],
    )
    made = await registry.oauth_clients.create(OPERATOR, spec)
    return made.client_secret


@pytest.fixture
async def cli(registry: Registry) -> str:
    """A public CLI client allowed the device grant and refresh tokens."""
    await make_client(registry, "my-cli")
    return "my-cli"


@dataclass(frozen=True)
class ResourceServer:
    """A confidential client that introspects tokens it is handed."""

    client_id: str
    secret: str

    def basic(self) -> dict[str, str]:
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture
async def resource_server(registry: Registry) -> ResourceServer:
    secret = await make_client(
        registry, "billing-api", grants=["authorization_code"], scopes=["openid"], confidential=True
    )
    assert secret is not None
    return ResourceServer("billing-api", secret)


class Device:
    """A CLI signing in with the device flow."""

    def __init__(self, http: httpx.AsyncClient, client_id: str) -> None:
        self.http = http
        self.client_id = client_id
        self.started: dict[str, Any] = {}

    async def start(self, scope: str = "llm.inference models.read") -> httpx.Response:
        answer = await self.http.post(
            "/oauth/device_authorization", data={"client_id": self.client_id, "scope": scope}
        )
        if answer.status_code == 200:
            self.started = answer.json()
        return answer

    async def poll(self) -> httpx.Response:
        return await self.http.post(
            "/oauth/token",
            data={
                "grant_type": DEVICE_GRANT,
                "device_code": self.started["device_code"],
                "client_id": self.client_id,
            },
        )

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self.client_id,
            },
        )

    async def revoke(self, token: str, **extra: str) -> httpx.Response:
        return await self.http.post(
            "/oauth/revoke", data={"token": token, "client_id": self.client_id, **extra}
        )


async def approve(
    browser: Browser, person: Person, device: Device, decision: str = "approve"
) -> httpx.Response:
    """The person opens the device's link, signs in, and decides."""
    path = device.started["verification_uri_complete"].removeprefix(ISSUER)
    first = await browser.get(path)
    if first.status_code == 303:  # not signed in yet: the sign-in page brings them back
        next_path = first.headers["location"].split("next=")[1]
        signed = await browser.sign_in(person.email, person.password, next_path)
        assert signed.status_code == 303
    review = await browser.get(path)
    assert review.status_code == 200, review.text
    return await browser.submit(review, "/device", {"decision": decision})


async def signed_in_tokens(
    browser: Browser, person: Person, device: Device, clock: Clock
) -> dict[str, Any]:
    """The whole device flow: start, approve, poll once the interval has passed."""
    assert (await device.start()).status_code == 200
    done = await approve(browser, person, device)
    assert done.status_code == 200
    clock.advance(device.started["interval"])
    answer = await device.poll()
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens
