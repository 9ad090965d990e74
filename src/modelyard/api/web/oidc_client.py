"""modelyard as a relying party of an upstream OpenID provider: its discovery document and
JWKS (cached), the authorization URL, the code exchange and the ID token's validation.

The protocol is Authlib's: the request URI and token body come from
``authlib.oauth2.rfc6749.parameters``, the PKCE challenge from ``rfc7636``, the ID token's
signature is checked by joserfc against the provider's JWKS and its claims (issuer, audience,
nonce, expiry, azp) by ``authlib.oidc.core.CodeIDToken``. HTTP goes over aiohttp, with a
timeout and a bounded body. Every failure is an :class:`UpstreamError` whose message a person
may read: never a secret, never the provider's raw answer.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
from authlib.common.security import is_secure_transport
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import SecretStr

from modelyard.registry.upstream_sign_in import UpstreamPerson

SCOPE = "openid email profile"
CACHE_S = 3600.0  # discovery document and JWKS; an unknown `kid` re-reads the JWKS at once
TIMEOUT_S = 10.0
MAX_BODY = 1024 * 1024
LEEWAY_S = 60
ANSWERED_ERROR = "The sign-in provider answered with an error."
NOT_VALID = "The sign-in provider's identity token is not valid."
# Asymmetric signatures only: never `none`, never an HMAC keyed by the client secret.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
              "EdDSA")  # fmt: skip


class UpstreamError(Exception):
    """The provider could not be used for this sign-in: ``status`` for the page (502 when
    it failed or is unreachable, 400 when what came back is not acceptable)."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Endpoints:
    """What the discovery document says, checked."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]


def _url(document: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = document.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not is_secure_transport(value):
        raise UpstreamError("The sign-in provider's configuration is not usable.")
    return value


def same_issuer(a: str, b: str) -> bool:
    """Issuer URLs compare as strings; a trailing slash aside (providers differ there)."""
    return a == b or a.rstrip("/") == b.rstrip("/")


class UpstreamProvider:
    """One configured provider; lives on ``app.state.upstream_oidc`` for the process."""

    def __init__(self, issuer: str, client_id: str, client_secret: SecretStr, name: str) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._secret = client_secret
        self.name = name
        self._endpoints: tuple[float, Endpoints] | None = None
        self._keys: tuple[float, KeySet] | None = None

    def __repr__(self) -> str:
        return f"UpstreamProvider(issuer={self.issuer!r}, client_id={self.client_id!r})"

    async def _get_json(self, url: str, headers: dict[str, str] | None = None) -> Any:
        """A document the provider serves (discovery, JWKS, userinfo): 200 and JSON."""
        status, document = await self._request("GET", url, headers=headers)
        if status != 200:
            raise UpstreamError(ANSWERED_ERROR)
        return document

    async def _request(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, body: str = ""
    ) -> tuple[int, Any]:
        """The status and JSON answer of one request (OAuth errors are JSON 4xx answers);
        a body that is too large or not JSON, or a provider out of reach, is an
        UpstreamError."""
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        raw = bytearray()
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(
                    method, url, headers=headers, data=body or None, allow_redirects=False
                ) as response,
            ):
                status = response.status
                async for chunk in response.content.iter_chunked(64 * 1024):
                    raw += chunk
                    if len(raw) > MAX_BODY:
                        raise UpstreamError(ANSWERED_ERROR)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
            raise UpstreamError("The sign-in provider could not be reached.") from None
        if status >= 500 or 300 <= status < 400:
            raise UpstreamError(ANSWERED_ERROR)
        try:
            return status, orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise UpstreamError(ANSWERED_ERROR) from None

    async def endpoints(self) -> Endpoints:
        """The provider's discovery document, read once an hour."""
        cached = self._endpoints
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await self._get_json(url)
        if not isinstance(document, dict) or not same_issuer(
            str(document.get("issuer")), self.issuer
        ):
            raise UpstreamError("The sign-in provider's configuration is not usable.")
        offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = tuple(a for a in ALGORITHMS if isinstance(offered, list) and a in offered)
        found = Endpoints(
            issuer=str(document["issuer"]),
            authorization_endpoint=str(_url(document, "authorization_endpoint")),
            token_endpoint=str(_url(document, "token_endpoint")),
            jwks_uri=str(_url(document, "jwks_uri")),
            userinfo_endpoint=_url(document, "userinfo_endpoint", required=False),
            algorithms=algorithms or ("RS256",),
        )
        self._endpoints = (time.monotonic() + CACHE_S, found)
        return found

    async def _key_set(self, endpoints: Endpoints, fresh: bool) -> KeySet:
        cached = self._keys
        if not fresh and cached is not None and cached[0] > time.monotonic():
            return cached[1]
        document = await self._get_json(endpoints.jwks_uri)
        try:
            keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError, KeyError):
            raise UpstreamError("The sign-in provider's signing keys are not usable.") from None
        self._keys = (time.monotonic() + CACHE_S, keys)
        return keys

    def authorization_url(
        self, endpoints: Endpoints, redirect_uri: str, state: str, nonce: str, verifier: str
    ) -> str:
        url: str = prepare_grant_uri(
            endpoints.authorization_endpoint,
            self.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=SCOPE,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return url

    def _basic(self) -> str:
        """client_secret_basic (RFC 6749 2.3.1: both halves form-urlencoded first)."""
        pair = f"{quote(self.client_id, safe='')}:{quote(self._secret.get_secret_value(), safe='')}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    async def exchange(
        self, endpoints: Endpoints, code: str, redirect_uri: str, verifier: str
    ) -> dict[str, Any]:
        """The token response for ``code`` (it carries the ID token)."""
        body: str = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=verifier
        )
        headers = {
            "Authorization": self._basic(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        status, answer = await self._request(
            "POST", endpoints.token_endpoint, headers=headers, body=body
        )
        if status != 200 or not isinstance(answer, dict) or "error" in answer:
            raise UpstreamError("The sign-in provider did not accept this sign-in.", 400)
        if not isinstance(answer.get("id_token"), str) or not answer.get("access_token"):
            raise UpstreamError("The sign-in provider sent no identity token.", 400)
        return answer

    async def verify(
        self, endpoints: Endpoints, id_token: str, nonce: str, access_token: str
    ) -> dict[str, Any]:
        """The ID token's claims, once its signature (the provider's JWKS; re-read once
        for an unknown key), issuer, audience, nonce and lifetime are right."""
        token = None
        for fresh in (False, True):
            keys = await self._key_set(endpoints, fresh)
            try:
                token = jwt.decode(id_token, keys, algorithms=list(endpoints.algorithms))
                break
            except (JoseError, ValueError, TypeError, KeyError):
                continue
        if token is None:
            raise UpstreamError(NOT_VALID, 400)
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": endpoints.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "sub": {"essential": True},
            },
            params={"nonce": nonce, "client_id": self.client_id, "access_token": access_token},
        )
        try:
            claims.validate(leeway=LEEWAY_S)
        except (JoseError, ValueError, TypeError, KeyError):
            raise UpstreamError(NOT_VALID, 400) from None
        return dict(claims)

    async def userinfo(self, endpoints: Endpoints, access_token: str) -> dict[str, Any]:
        """The userinfo claims (when the ID token names no email); {} if none."""
        if endpoints.userinfo_endpoint is None:
            return {}
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        answer = await self._get_json(endpoints.userinfo_endpoint, headers)
        return answer if isinstance(answer, dict) and "error" not in answer else {}

    async def person(
        self, code: str, redirect_uri: str, verifier: str, nonce: str
    ) -> UpstreamPerson:
        """Who signed in at the provider, from the code its redirect brought back."""
        endpoints = await self.endpoints()
        tokens = await self.exchange(endpoints, code, redirect_uri, verifier)
        access_token = str(tokens["access_token"])
        claims = await self.verify(endpoints, tokens["id_token"], nonce, access_token)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= 255:
            raise UpstreamError(NOT_VALID, 400)
        if "email" not in claims:
            extra = await self.userinfo(endpoints, access_token)
            if extra.get("sub") == subject:
                claims = {**extra, **claims}
        return UpstreamPerson(
            issuer=endpoints.issuer[:500],
            subject=subject,
            email=_text(claims.get("email"), 320),
            email_verified=claims.get("email_verified") in (True, "true"),
            name=_text(claims.get("name"), 200),
        )


def _text(value: object, limit: int) -> str:
    """A claim's text, or '' when it is not text we would store as it is."""
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        return ""
    return value


def provider_name(issuer: str, configured: str) -> str:
    """The button's name: the configured one, else the issuer's host."""
    return configured.strip() or (urlsplit(issuer).hostname or issuer)
