"""OpenID Connect on the code grant: the ``id_token`` (RS256, signed by the registry's
current signing key and naming its ``kid``, with ``nonce`` and ``auth_time``) and the
userinfo endpoint. What a person's claims say depends on the token's scopes:
``openid`` gives ``sub``; ``profile`` the name; ``email`` the email and whether it is
verified; ``user.info`` all of those and the role."""

from __future__ import annotations

import time
from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    OAuth2Error,
    OAuth2Request,
    ResourceProtector,
    scope_to_list,
)
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator, InsufficientScopeError
from authlib.oidc.core import OpenIDCode, UserInfo, UserInfoEndpoint

from modelyard.api.oauth import bridge
from modelyard.api.oauth.grants import AuthorizationCodeGrant, S256Challenge
from modelyard.api.oauth.models import Client, Person, Token
from modelyard.api.oauth.server import JSON_HEADERS, ModelyardServer
from modelyard.registry import oauth_codes, oauth_tokens
from modelyard.registry.scopes import USER_INFO
from modelyard.registry.signing_keys import signing_key

ALG = "RS256"


def claims(person: Person, scope: str) -> UserInfo:
    scopes = set(scope_to_list(scope) or [])
    info = UserInfo(sub=str(person.id))
    everything = USER_INFO in scopes
    if everything or "profile" in scopes:
        info["name"] = person.display_name or person.email
    if everything or "email" in scopes:
        info["email"] = person.email
        info["email_verified"] = person.email_verified
    if everything:
        info["role"] = person.role
    return info


class IdToken(OpenIDCode):  # type: ignore[misc]
    def __init__(self, server: ModelyardServer) -> None:
        super().__init__(require_nonce=False)
        self.server = server

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        if len(nonce) > 255:  # longer than a code can remember
            raise InvalidRequestError("The nonce is longer than 255 characters.")
        client: Client = request.client
        return bridge.wait(lambda: oauth_codes.nonce_used(self.server.db, client.row.id, nonce))

    def process_token(self, grant: Any, response: Any) -> Any:
        client: Client = grant.request.client
        _, token, _ = response
        if "openid" in (scope_to_list(token.get("scope")) or []):
            client.signing = bridge.wait(lambda: signing_key(self.server.db))
        return super().process_token(grant, response)

    def resolve_client_private_key(self, client: Client) -> dict[str, Any]:
        assert client.signing is not None
        return client.signing[1]

    def get_client_algorithm(self, client: Client) -> str:
        return ALG

    def get_encode_header(self, client: Client) -> dict[str, str]:
        assert client.signing is not None
        return {"alg": ALG, "kid": client.signing[0], "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        now = int(time.time())
        ttl = self.server.lifetimes(client).access_s
        return {
            "iss": self.server.issuer,
            "aud": [client.get_client_id()],
            "iat": now,
            "exp": now + ttl,
        }

    def generate_user_info(self, user: Person, scope: str) -> UserInfo:
        return claims(user, scope)


class AccessTokens(BearerTokenValidator):  # type: ignore[misc]
    def __init__(self, server: ModelyardServer) -> None:
        super().__init__()
        self.server = server

    def authenticate_token(self, token_string: str) -> Token | None:
        if not isinstance(token_string, str) or len(token_string) > 200:
            return None
        found = bridge.wait(lambda: oauth_tokens.find_access(self.server.db, token_string))
        if found is None:
            return None
        return Token(found.token, Person.of(found.user), found.client)


class NoBearerToken(OAuth2Error):  # type: ignore[misc]
    """No bearer token at all (none sent, another scheme, an empty one): RFC 6750 3.1 says
    challenge with ``Bearer`` and no error code (Authlib's ``missing_authorization`` and
    ``unsupported_token_type`` are codes no client knows)."""

    error = "invalid_token"
    description = "Send the access token as 'Authorization: Bearer <access token>'."
    status_code = 401

    def get_headers(self) -> list[tuple[str, str]]:
        return [*JSON_HEADERS, ("WWW-Authenticate", "Bearer")]


class NotOpenId(InsufficientScopeError):  # type: ignore[misc]
    """A valid token without ``openid``: 403 with RFC 6750's challenge naming the scope,
    as every other modelyard endpoint answers a missing scope."""

    description = "This access token was not granted the openid scope."

    def get_headers(self) -> list[tuple[str, str]]:
        challenge = 'Bearer error="insufficient_scope", scope="openid"'
        return [*JSON_HEADERS, ("WWW-Authenticate", challenge)]


class UserInfoEndpointImpl(UserInfoEndpoint):  # type: ignore[misc]
    """GET or POST /oauth/userinfo with ``Authorization: Bearer <access token>`` holding
    ``openid``: the person's claims as JSON (never signed: no client asks for that)."""

    def __init__(self, server: ModelyardServer) -> None:
        protector = ResourceProtector()
        protector.register_token_validator(AccessTokens(server))
        super().__init__(server=server, resource_protector=protector)

    def __call__(self, request: OAuth2Request) -> tuple[int, Any, list[tuple[str, str]]]:
        try:
            token: Token = self.resource_protector.validate_request(["openid"], request)
        except (MissingAuthorizationError, UnsupportedTokenTypeError):
            raise NoBearerToken() from None
        except InsufficientScopeError:
            raise NotOpenId() from None
        return 200, dict(self.generate_user_info(token.get_user(), token.get_scope())), JSON_HEADERS

    def generate_user_info(self, user: Person, scope: str) -> UserInfo:
        return claims(user, scope)

    def get_issuer(self) -> str:
        return str(self.server.issuer)


def register(server: ModelyardServer) -> None:
    """The code grant with PKCE and OpenID Connect, and the userinfo endpoint."""
    server.register_grant(AuthorizationCodeGrant, [S256Challenge(required=True), IdToken(server)])
    server.register_endpoint(UserInfoEndpointImpl(server))
