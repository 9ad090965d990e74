"""What modelyard accepts from an upstream provider, against a provider that misbehaves on
purpose (a small aiohttp server on 127.0.0.1): unusable discovery documents, tokens that are
unsigned, signed with the client secret, for someone else or stale, oversized or broken
answers; and the token request modelyard sends (client_secret_basic, PKCE verifier)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from pydantic import SecretStr

from modelyard.api.web.oidc_client import UpstreamError, UpstreamProvider

CLIENT_ID = "gateway"
SECRET = "s3cret:with/odd=chars"
REDIRECT = "https://a.modelyard.test/login/upstream/callback"
NONCE = "the-nonce"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@dataclass
class Fake:
    """The provider's behaviour, changed by each test before it calls."""

    issuer: str = ""
    discovery: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    id_token: str | None = None
    token_status: int = 200
    token_body: bytes | None = None
    userinfo: dict[str, Any] = field(default_factory=dict)
    jwks_body: bytes | None = None
    seen: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)

    def signed(self, claims: dict[str, Any] | None = None) -> str:
        token: str = jwt.encode({"alg": "RS256", "kid": "k1"}, claims or self.claims, KEY)
        return token

    async def handle_discovery(self, request: web.Request) -> web.Response:
        return web.json_response(self.discovery)

    async def handle_jwks(self, request: web.Request) -> web.Response:
        if self.jwks_body is not None:
            return web.Response(body=self.jwks_body, content_type="application/json")
        return web.json_response({"keys": [KEY.as_dict(private=False)]})

    async def handle_token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.seen.append((dict(request.headers), form))
        if self.token_body is not None:
            return web.Response(status=self.token_status, body=self.token_body)
        body = {"access_token": "at", "token_type": "Bearer", "id_token": self.id_token}
        return web.json_response(body, status=self.token_status)

    async def handle_userinfo(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer at"
        return web.json_response(self.userinfo)


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    state = Fake()
    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", state.handle_discovery)
    app.router.add_get("/jwks", state.handle_jwks)
    app.router.add_post("/token", state.handle_token)
    app.router.add_get("/userinfo", state.handle_userinfo)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.issuer = str(server.make_url("")).rstrip("/")
    state.discovery = {
        "issuer": state.issuer,
        "authorization_endpoint": f"{state.issuer}/authorize",
        "token_endpoint": f"{state.issuer}/token",
        "jwks_uri": f"{state.issuer}/jwks",
        "userinfo_endpoint": f"{state.issuer}/userinfo",
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
    }
    now = int(time.time())
    state.claims = {"iss": state.issuer, "aud": CLIENT_ID, "sub": "u-1", "iat": now,
                    "exp": now + 300, "nonce": NONCE, "email": "u1@example.com",
                    "email_verified": True, "name": "U One"}  # fmt: skip
    state.id_token = state.signed()
    yield state
    await server.close()


def provider(fake: Fake) -> UpstreamProvider:
    return UpstreamProvider(fake.issuer, CLIENT_ID, SecretStr(SECRET), "Fake")


async def person(fake: Fake) -> Any:
    return await provider(fake).person("the-code", REDIRECT, "the-verifier", NONCE)


async def test_the_token_request_uses_basic_auth_and_the_pkce_verifier(fake: Fake) -> None:
    found = await person(fake)
    assert (found.subject, found.email, found.email_verified, found.name) == (
        "u-1", "u1@example.com", True, "U One")  # fmt: skip
    headers, form = fake.seen[0]
    pair = base64.b64decode(headers["Authorization"].removeprefix("Basic ")).decode()
    assert pair == "gateway:s3cret%3Awith%2Fodd%3Dchars"  # RFC 6749 2.3.1: form-encoded first
    assert form == {"grant_type": "authorization_code", "code": "the-code",
                    "redirect_uri": REDIRECT, "code_verifier": "the-verifier"}  # fmt: skip


async def test_an_email_missing_from_the_id_token_is_read_from_userinfo(fake: Fake) -> None:
    claims = {k: v for k, v in fake.claims.items() if k not in ("email", "email_verified")}
    fake.id_token = fake.signed(claims)
    fake.userinfo = {"sub": "u-1", "email": "u1@example.com", "email_verified": "true"}
    found = await person(fake)
    assert (found.email, found.email_verified) == ("u1@example.com", True)
    fake.userinfo = {"sub": "someone-else", "email": "boss@example.com", "email_verified": True}
    found = await person(fake)
    assert (found.email, found.email_verified) == ("", False)  # not about this person


def _signed_otherwise(claims: dict[str, Any], how: str) -> str:
    if how == "unsigned":
        return f"{_b64({'alg': 'none'})}.{_b64(claims)}."
    if how == "hs256-with-the-client-secret":
        token: str = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(SECRET))
        return token
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    forged: str = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, other)
    return forged


CHANGES: dict[str, dict[str, Any]] = {
    "wrong-audience": {"aud": "another-client"},
    "wrong-issuer": {"iss": "https://elsewhere.example.com"},
    "expired": {"exp": int(time.time()) - 3600},
    "other-nonce": {"nonce": "replayed"},
    "no-nonce": {"nonce": None},
    "no-subject": {"sub": None},
    "no-expiry": {"exp": None},
}


@pytest.mark.parametrize(
    "change", [*CHANGES, "unsigned", "hs256-with-the-client-secret", "other-key", "garbage"]
)
async def test_an_id_token_that_is_not_right_is_refused(fake: Fake, change: str) -> None:
    claims = dict(fake.claims)
    if change in CHANGES:
        claims.update(CHANGES[change])
        fake.id_token = fake.signed({k: v for k, v in claims.items() if v is not None})
    elif change == "garbage":
        fake.id_token = "not.a.token"
    else:
        fake.id_token = _signed_otherwise(claims, change)
    with pytest.raises(UpstreamError) as refused:
        await person(fake)
    assert refused.value.status == 400
    assert "identity token is not valid" in refused.value.message


@pytest.mark.parametrize(
    "change",
    ["other-issuer", "plain-http-endpoint", "missing-token-endpoint", "not-an-object"],
)
async def test_a_discovery_document_that_is_not_usable_is_refused(fake: Fake, change: str) -> None:
    if change == "other-issuer":
        fake.discovery["issuer"] = "https://elsewhere.example.com"
    elif change == "plain-http-endpoint":
        fake.discovery["token_endpoint"] = "http://id.example.com/token"
    elif change == "missing-token-endpoint":
        del fake.discovery["token_endpoint"]
    else:
        fake.discovery = ["not", "an", "object"]  # type: ignore[assignment]
    with pytest.raises(UpstreamError) as refused:
        await provider(fake).endpoints()
    assert "configuration is not usable" in refused.value.message
    assert not fake.seen  # nothing sent to a token endpoint


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, b'{"error": "invalid_grant"}', "did not accept"),
        (401, b'{"error": "invalid_client"}', "did not accept"),
        (200, b'{"access_token": "at"}', "no identity token"),
        (500, b"<html>oops</html>", "answered with an error"),
        (200, b"<html>not json</html>", "answered with an error"),
        (200, b"[" * (2 * 1024 * 1024), "answered with an error"),
    ],
)
async def test_token_answers_that_are_not_tokens_are_refused(
    fake: Fake, status: int, body: bytes, expected: str
) -> None:
    fake.token_status, fake.token_body = status, body
    with pytest.raises(UpstreamError) as refused:
        await person(fake)
    assert expected in refused.value.message
    assert SECRET not in refused.value.message


async def test_an_oversized_or_broken_jwks_is_refused(fake: Fake) -> None:
    fake.jwks_body = b'{"keys": [' + b" " * (2 * 1024 * 1024) + b"]}"
    with pytest.raises(UpstreamError, match="answered with an error"):
        await person(fake)
    fake.jwks_body = b'{"keys": [{"kty": "RSA", "n": "x"}]}'
    with pytest.raises(UpstreamError, match="signing keys are not usable"):
        await person(fake)


async def test_the_provider_is_read_once_and_its_secret_never_shown(fake: Fake) -> None:
    upstream = provider(fake)
    first = await upstream.endpoints()
    fake.discovery["issuer"] = "https://changed.example.com"
    assert await upstream.endpoints() is first  # cached
    assert SECRET not in repr(upstream)
