"""Token revocation (RFC 7009) and introspection (RFC 7662) on Authlib.

``POST /oauth/revoke``: a client (public ones by ``client_id``, confidential ones with their
secret) revokes a token it was issued. An access token revokes its row; a refresh token its
whole family. Unknown, expired or already revoked tokens get 200 and change nothing (the
RFC's answer: the client's goal is met); another client's token is refused
(``invalid_grant``).

``POST /oauth/introspect``: confidential clients only (their secret, Basic or in the form),
typically a resource server checking a token it was handed; it may introspect any token.
Anything not valid now answers only ``{"active": false}``. Confidential clients are
registered by admins, so this reveals nothing to a stranger.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from fastapi import APIRouter, Request
from fastapi.responses import Response

from modelyard.api.oauth import bridge
from modelyard.api.oauth.grants import SECRET_ONLY, WITH_PUBLIC
from modelyard.api.oauth.models import Client
from modelyard.api.oauth.server import JSON_HEADERS, ModelyardServer, serve_endpoint
from modelyard.registry import oauth_presented
from modelyard.registry.actors import LABEL_MAX, Actor
from modelyard.registry.oauth_presented import Presented
from modelyard.registry.oauth_tokens import SERVER

router = APIRouter(include_in_schema=False)
MAX_TOKEN = 200


class PresentedToken:
    """A presented token as Authlib's endpoints handle it."""

    def __init__(self, facts: Presented) -> None:
        self.facts = facts

    def check_client(self, client: Client) -> bool:
        return self.facts.client_pk == client.row.id


def find(server: ModelyardServer, text: Any) -> PresentedToken | None:
    if not isinstance(text, str) or not text or len(text) > MAX_TOKEN:
        return None
    facts = bridge.wait(lambda: oauth_presented.lookup(server.db, SERVER, text))
    return None if facts is None else PresentedToken(facts)


def check_params(request: OAuth2Request) -> None:
    """``token`` is required; ``token_type_hint`` is ignored whatever it says: a token's
    prefix tells its kind (RFC 7009 section 2.1 and RFC 7662 section 2.1 let the server
    search past a wrong hint)."""
    if "token" not in request.form:
        raise InvalidRequestError("Send the token as the 'token' parameter.")


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = WITH_PUBLIC
    server: ModelyardServer

    def check_params(self, request: OAuth2Request, client: Client) -> None:
        check_params(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return find(self.server, token_string)

    def revoke_token(self, token: PresentedToken, request: OAuth2Request) -> None:
        """Audited as the token's user acting through the client that asked."""
        facts = token.facts
        actor = Actor(
            user_id=facts.user_id,
            role="member",
            label=f"user:{facts.email} via {facts.client_id}"[:LABEL_MAX],
            scopes=frozenset(),
        )
        bridge.wait(lambda: oauth_presented.revoke(self.server.db, actor, facts))


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = SECRET_ONLY
    server: ModelyardServer

    def check_params(self, request: OAuth2Request, client: Client) -> None:
        check_params(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return find(self.server, token_string)

    def check_permission(self, token: PresentedToken, client: Client, request: Any) -> bool:
        return not client.is_public

    def create_endpoint_response(self, request: OAuth2Request) -> tuple[int, Any, Any]:
        client = self.authenticate_endpoint_client(request)
        token = self.authenticate_token(request, client)
        return 200, self.create_introspection_payload(token), JSON_HEADERS

    def create_introspection_payload(self, token: PresentedToken | None) -> dict[str, Any]:
        if token is None or not token.facts.active:
            return {"active": False}
        return self.introspect_token(token)

    def introspect_token(self, token: PresentedToken) -> dict[str, Any]:
        facts = token.facts
        payload: dict[str, Any] = {
            "active": True,
            "scope": " ".join(facts.scopes),
            "client_id": facts.client_id,
            "username": facts.email,
            "token_type": "Bearer" if facts.kind == "access_token" else "refresh_token",
            "exp": int(facts.expires_at.timestamp()) if facts.expires_at else None,
            "iat": int(facts.issued_at.timestamp()),
            "sub": str(facts.user_id),
            "iss": self.server.issuer,
        }
        return {key: value for key, value in payload.items() if value is not None}


def register(server: ModelyardServer) -> None:
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    server.advertise(
        revocation_endpoint="/oauth/revoke",
        revocation_endpoint_auth_methods_supported=WITH_PUBLIC,
        introspection_endpoint="/oauth/introspect",
        introspection_endpoint_auth_methods_supported=SECRET_ONLY,
    )


@router.post("/oauth/revoke")
async def revoke(request: Request) -> Response:
    return await serve_endpoint(request, Revocation.ENDPOINT_NAME)


@router.post("/oauth/introspect")
async def introspect(request: Request) -> Response:
    return await serve_endpoint(request, Introspection.ENDPOINT_NAME)
