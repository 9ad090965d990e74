"""Both ends of an OAuth flow as the tests drive them: the app (builds the authorization
request with PKCE, state and nonce; exchanges codes; refreshes; verifies ID tokens against
the JWKS) and the person's browser (follows redirects, signs in, reads the consent form)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.api.web import browser as web

ISSUER = "https://modelyard.test"


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Request:
    """One authorization request the app made: what it must check when it comes back."""

    url: str
    state: str
    nonce: str
    verifier: str


@dataclass
class App:
    http: httpx.AsyncClient
    client_id: str
    redirect_uri: str
    secret: str | None = None
    service_user_id: str | None = None
    last: Request | None = field(default=None)

    def authorize_url(self, scope: str, **extra: str) -> str:
        verifier = secrets.token_urlsafe(48)
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
        params.update(extra)
        url = "/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v != ""})
        self.last = Request(url, state, nonce, verifier)
        return url

    def auth(self) -> dict[str, str]:
        if self.secret is None:
            return {}
        pair = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    async def token(self, **form: str) -> httpx.Response:
        if self.secret is None:
            form.setdefault("client_id", self.client_id)
        return await self.http.post("/oauth/token", data=form, headers=self.auth())

    async def exchange(self, location: str, **extra: str) -> httpx.Response:
        """The code in the redirect ``location`` for tokens (state checked first)."""
        assert self.last is not None
        answer = query_of(location)
        assert answer["state"] == self.last.state, answer
        form = {
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.last.verifier,
        }
        form.update(extra)
        return await self.token(**form)

    async def refresh(self, refresh_token: str, **extra: str) -> httpx.Response:
        return await self.token(grant_type="refresh_token", refresh_token=refresh_token, **extra)

    async def verify_id_token(self, id_token: str) -> dict[str, Any]:
        """The ID token's claims, its signature checked against the published JWKS."""
        config = (await self.http.get("/.well-known/openid-configuration")).json()
        keys = (await self.http.get(urlsplit(config["jwks_uri"]).path)).json()
        decoded = jwt.decode(id_token, KeySet.import_key_set(keys), algorithms=["RS256"])
        claims: dict[str, Any] = decoded.claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": self.client_id},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
        ).validate(claims)
        assert decoded.header["kid"]
        return claims


def consent_form(html: str) -> tuple[str, dict[str, str]]:
    """The consent page's form: its action and hidden fields."""
    for found in web.forms(html):
        if found["action"].startswith("/oauth/authorize?"):
            return found["action"], found["fields"]
    raise AssertionError(f"no consent form in the page:\n{html}")


class Browser(web.Browser):
    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client, origin=ISSUER)

    async def consent(self, page: httpx.Response, decision: str = "approve") -> httpx.Response:
        action, fields = consent_form(page.text)
        return await self.client.post(
            action,
            data=fields | {"decision": decision},
            headers={"Origin": self.origin, "Referer": str(page.url)},
        )

    async def visit(self, url: str, person: Any | None = None) -> httpx.Response:
        """Open ``url`` and follow this server's redirects (signing ``person`` in when the
        sign-in page asks); stops at a page or at a redirect leaving the server."""
        answer = await self.client.get(url)
        for _ in range(10):
            if answer.status_code not in (302, 303):
                return answer
            location = answer.headers["location"]
            if not location.startswith("/"):
                return answer  # back to the app
            if location.startswith("/login"):
                assert person is not None, "the server asked to sign in"
                page = await self.client.get(location)
                answer = await self.submit(
                    page, "/login", {"email": person.email, "password": person.password}
                )
                continue
            answer = await self.client.get(location)
        raise AssertionError("too many redirects")
