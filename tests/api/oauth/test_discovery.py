"""What clients read before a flow: the discovery documents (validated by Authlib's own
metadata classes), the JWKS, and ID tokens that still verify after a signing-key rotation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jws

from modelyard.api.app import create_app
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.oauth.flows import ISSUER, App, Browser
from tests.api.web.conftest import Person


async def test_discovery_documents_describe_the_server(oauth_client: httpx.AsyncClient) -> None:
    oidc = await oauth_client.get("/.well-known/openid-configuration")
    assert oidc.status_code == 200
    config = oidc.json()
    OpenIDProviderMetadata(config).validate()
    assert config["issuer"] == ISSUER
    assert config["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
    assert config["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert config["userinfo_endpoint"] == f"{ISSUER}/oauth/userinfo"
    assert config["jwks_uri"] == f"{ISSUER}/oauth/jwks"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(
        config["grant_types_supported"]
    )
    assert {"openid", "llm.inference", "models.read", "user.info"} <= set(
        config["scopes_supported"]
    )
    oauth = await oauth_client.get("/.well-known/oauth-authorization-server")
    assert oauth.status_code == 200
    AuthorizationServerMetadata(oauth.json()).validate()
    assert oauth.json()["token_endpoint"] == config["token_endpoint"]


async def test_id_tokens_verify_after_the_signing_key_rotates(
    desktop: App, browser: Browser, person: Person, registry: Registry, admin: Actor
) -> None:
    async def id_token() -> str:
        page = await browser.visit(desktop.authorize_url("openid email"), person)
        answer = page if page.status_code == 302 else await browser.consent(page)
        tokens = await desktop.exchange(answer.headers["location"])
        assert tokens.status_code == 200, tokens.text
        token: str = tokens.json()["id_token"]
        return token

    before = await id_token()
    old_kid = jws.extract_compact(before.encode()).protected["kid"]
    keys = (await desktop.http.get("/oauth/jwks")).json()["keys"]
    assert [k["kid"] for k in keys] == [old_kid]
    assert all("d" not in k and "p" not in k for k in keys)  # public halves only
    await registry.signing_keys.rotate(admin)
    after = await id_token()
    new_kid = jws.extract_compact(after.encode()).protected["kid"]
    assert new_kid != old_kid
    published = {k["kid"] for k in (await desktop.http.get("/oauth/jwks")).json()["keys"]}
    assert published == {old_kid, new_kid}
    assert (await desktop.verify_id_token(before))["sub"] == person.id
    assert (await desktop.verify_id_token(after))["sub"] == person.id


async def test_the_jwks_fetched_before_any_sign_in_holds_the_key_that_signs(
    desktop: App, browser: Browser, person: Person
) -> None:
    first = (await desktop.http.get("/oauth/jwks")).json()["keys"]
    assert len(first) == 1  # made on this first request
    assert "d" not in first[0]  # its public half
    again = (await desktop.http.get("/oauth/jwks")).json()["keys"]
    assert again == first  # made once
    page = await browser.visit(desktop.authorize_url("openid"), person)
    answer = page if page.status_code == 302 else await browser.consent(page)
    id_token = (await desktop.exchange(answer.headers["location"])).json()["id_token"]
    assert jws.extract_compact(id_token.encode()).protected["kid"] == first[0]["kid"]


@pytest.fixture
async def plain_http(settings: Settings, registry: Registry) -> AsyncIterator[httpx.AsyncClient]:
    """A server whose public URL is http on a host that is not loopback."""
    insecure = settings.model_copy(update={"public_url": "http://modelyard.test"})
    app = create_app(insecure, registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://modelyard.test") as c:
        yield c


async def test_oauth_over_plain_http_is_refused_clearly(plain_http: httpx.AsyncClient) -> None:
    config = await plain_http.get("/.well-known/openid-configuration")
    assert config.status_code == 500
    assert config.json()["error"]["code"] == "MISCONFIGURED"
    assert "MODELYARD_PUBLIC_URL" in config.json()["error"]["message"]
    token = await plain_http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert token.status_code == 400
    assert token.json()["error"] == "insecure_transport"
    page = await plain_http.get("/oauth/authorize?response_type=code&client_id=x")
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
