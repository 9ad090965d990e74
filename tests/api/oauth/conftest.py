"""The authorization server's tests: an app whose issuer is the test client's https URL
(OAuth needs TLS; the session cookie is then ``__Host-`` and Secure), browsers that sign
in, a desktop app's public client and a service's confidential one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from modelyard.api.app import create_app
from modelyard.catalog.clients import seed_clients
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_clients import OAuthClientCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.oauth.flows import ISSUER, App, Browser
from tests.api.web.conftest import Person, make_person

OPERATOR = Actor.operator()


@pytest.fixture
def oauth_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": ISSUER})


@pytest.fixture
async def oauth_client(
    oauth_settings: Settings, registry: Registry, admin_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(oauth_settings, registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        yield client


@pytest.fixture
def browser(oauth_client: httpx.AsyncClient) -> Browser:
    return Browser(oauth_client)


@pytest.fixture
async def person(registry: Registry) -> Person:
    return await make_person(registry)


@pytest.fixture
async def desktop(registry: Registry, oauth_client: httpx.AsyncClient) -> App:
    """Seed 003's desktop app as `modelyard seed` registers it: public, code + refresh,
    ``http://127.0.0.1/callback`` on any port; it listens on port 53682 today."""
    assert await seed_clients(registry.db, OPERATOR) == ["textassistant-desktop"]
    return App(oauth_client, "textassistant-desktop", "http://127.0.0.1:53682/callback")


@pytest.fixture
async def service(registry: Registry, oauth_client: httpx.AsyncClient) -> App:
    """A confidential server-side client acting as its own service user."""
    user = await registry.users.create(
        OPERATOR, UserCreate(email="reporting-bot@example.com", display_name="Reporting bot")
    )
    made = await registry.oauth_clients.create(
        OPERATOR,
        OAuthClientCreate(
            client_id="reporting",
            name="Reporting",
            client_type="confidential",
            redirect_uris=["https://reports.example.com/callback"],
            grant_types=["client_credentials", "authorization_code", "refresh_token"],
            scopes=["openid", "email", "models.read", "credits.read"],
            service_user_id=user.id,
        ),
    )
    assert made.client_secret is not None
    return App(
        oauth_client,
        "reporting",
        "https://reports.example.com/callback",
        secret=made.client_secret,
        service_user_id=str(user.id),
    )
