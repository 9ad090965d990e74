"""modelyard's OAuth 2 / OpenID Connect authorization server: Authlib's
``AuthorizationServer`` adapted to Starlette requests and the registry's async database.

How a request is served: the route reads the HTTP request (query, bounded form body) into
an ``OAuthRequest`` (``wire.py``), then runs Authlib's synchronous call in a worker thread
(``bridge.in_thread``); every storage hook Authlib calls (find a client, save a code, save a
token) runs its query back on the event loop through ``bridge.wait``. Authlib answers
``(status, body, headers)``, which :meth:`ModelyardServer.handle_response` makes a response.

Extending it (more grants, more endpoints), e.g. the device flow, revocation and
introspection::

    from modelyard.api.oauth.server import ModelyardServer, serve_endpoint, serve_token

    def install(server: ModelyardServer) -> None:      # called from api/oauth/routes.py
        server.register_grant(DeviceCodeGrant)           # Authlib grant class
        server.register_endpoint(MyRevocationEndpoint)   # ENDPOINT_NAME "revocation"
        server.advertise(revocation_endpoint="/oauth/revoke")  # discovery metadata (path ->
                                                           # absolute URL on the issuer)

    @router.post("/oauth/revoke")
    async def revoke(request: Request) -> Response:
        return await serve_endpoint(request, "revocation")

Hooks inside grants/endpoints reach the database with ``wait(lambda: some_coroutine(
self.server.db, ...))`` and the issuer with ``self.server.issuer``. Tokens are minted by the
server's token generator (``myat_``/``myrt_`` formats) and stored by
:meth:`ModelyardServer.save_token` (a new token family for ``request.user`` and
``request.client``; set ``request.user`` to a :class:`~modelyard.api.oauth.models.Person`).
Authlib's ``query_client`` returns enabled clients only.

OAuth needs TLS: the issuer (``MODELYARD_PUBLIC_URL``) must be https, or http on a loopback
address for local use; otherwise every endpoint answers ``insecure_transport``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidClientError,
    JsonRequest,
    OAuth2Error,
    OAuth2Request,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from fastapi import Request
from fastapi.responses import Response

from modelyard.api.oauth import bridge
from modelyard.api.oauth.models import Client, Person
from modelyard.api.oauth.wire import FormError, OAuthRequest, oauth_request
from modelyard.registry import oauth_tokens
from modelyard.registry.oauth_clients import find_client
from modelyard.registry.scopes import OIDC_SCOPES, SCOPES
from modelyard.registry.tx import Database
from modelyard.settings import Settings

# Authlib logs each issued token (its plaintext) at DEBUG: never let that through.
logging.getLogger("authlib").setLevel(logging.INFO)

CLIENT_AUTH_FAILED = (
    "Client authentication failed: a confidential client sends its client_id and secret "
    "by HTTP Basic or as client_id and client_secret in the form; a public client sends "
    "its client_id only."
)
JSON_HEADERS = [
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
]


def json_response(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    response = Response(orjson.dumps(body), status_code=status)
    for key, value in headers or JSON_HEADERS:
        response.headers[key] = value
    return response


class ResponseTypeRefused(OAuth2Error):  # type: ignore[misc]
    error = "unsupported_response_type"
    description = "Only response_type=code is supported."


class ModelyardServer(AuthorizationServer):  # type: ignore[misc]
    """The authorization server of one app. Grants and endpoints are registered by
    ``api/oauth/routes.py`` (``build``); see the module docstring to add more."""

    def __init__(self, state: Any) -> None:
        super().__init__(scopes_supported=[*SCOPES, *OIDC_SCOPES])
        self._state = state  # the app's state: its registry is opened in the lifespan
        self.metadata: dict[str, Any] = {}
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: oauth_tokens.new_access_token(),
                refresh_token_generator=lambda **_: oauth_tokens.new_refresh_token(),
                expires_generator=lambda client, grant_type: self.lifetimes(client).access_s,
            ),
        )

    @property
    def db(self) -> Database:
        db: Database = self._state.registry.db
        return db

    @property
    def issuer(self) -> str:
        settings: Settings = self._state.settings
        return settings.issuer

    def url(self, path: str) -> str:
        return self.issuer + path

    def advertise(self, **entries: Any) -> None:
        """Add discovery metadata; a value starting with "/" is made a URL on the issuer."""
        for key, value in entries.items():
            self.metadata[key] = (
                self.url(value) if isinstance(value, str) and value.startswith("/") else value
            )

    # Authlib's storage hooks (called in the worker thread)

    def query_client(self, client_id: str) -> Client | None:
        if not isinstance(client_id, str) or not client_id or len(client_id) > 100:
            return None
        row = bridge.wait(lambda: find_client(self.db, client_id))
        return None if row is None else Client(row)

    def lifetimes(self, client: Client) -> oauth_tokens.Lifetimes:
        if client.lifetimes is None:
            client.lifetimes = bridge.wait(lambda: oauth_tokens.lifetimes(self.db))
        return client.lifetimes

    def issued(self, token: dict[str, Any], request: OAuth2Request) -> oauth_tokens.Issued:
        """The plaintext of ``token`` (Authlib's dict) as the registry stores it."""
        client: Client = request.client
        return oauth_tokens.Issued(
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            scopes=str(token.get("scope") or "").split(),
            grant_type=request.payload.grant_type or "",
            ttl=self.lifetimes(client),
        )

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """A new token family for ``request.user`` (a Person) from ``request.client``."""
        client: Client = request.client
        user: Person = request.user
        issued = self.issued(token, request)
        code = getattr(request, "authorization_code", None)
        family = code.row.id if code is not None else None
        bridge.wait(
            lambda: oauth_tokens.store(
                self.db, issued, client_pk=client.row.id, user_id=user.id, family_id=family
            )
        )

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: what happens is audited by the registry."""

    # Requests and responses

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        raise TypeError("build the request with api.oauth.server.oauth_request first")

    def create_json_request(self, request: Any) -> JsonRequest:
        raise NotImplementedError("no endpoint of this server reads JSON")

    def get_authorization_grant(self, request: OAuth2Request) -> Any:
        """Authlib's, but an unsupported response type is described plainly (Authlib
        passes its arguments swapped: the description read as the response type)."""
        try:
            return super().get_authorization_grant(request)
        except UnsupportedResponseTypeError as error:
            raise ResponseTypeRefused(redirect_uri=error.redirect_uri) from None

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        """Authlib's error answer, but a failed client authentication (401) is a Basic
        challenge with the ``realm`` RFC 7617 requires, saying what to fix."""
        if isinstance(error, InvalidClientError) and error.status_code == 401:
            if str(error.description or "").startswith("The client cannot authenticate"):
                error.description = CLIENT_AUTH_FAILED
            response = super().handle_error_response(request, error)
            response.headers["WWW-Authenticate"] = (
                f'Basic realm="{self.issuer}", error="invalid_client"'
            )
            return response  # type: ignore[no-any-return]
        return super().handle_error_response(request, error)  # type: ignore[no-any-return]

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        pairs = list(headers or [])
        if isinstance(body, dict):
            if not any(k.lower() == "content-type" for k, _ in pairs):
                pairs.append(("Content-Type", "application/json"))
            response = Response(orjson.dumps(body), status_code=status)
        else:
            response = Response(body or b"", status_code=status)
        for key, value in pairs:
            response.headers[key] = value
        return response


def server_of(request: Request) -> ModelyardServer:
    server: ModelyardServer = request.app.state.oauth_server
    return server


def invalid_request(message: str) -> Response:
    return json_response(400, {"error": "invalid_request", "error_description": message})


async def serve(
    request: Request, call: Callable[[ModelyardServer, OAuthRequest], Response]
) -> Response:
    """Run ``call(server, oauth_request)`` in a worker thread; a malformed body is a 400
    ``invalid_request`` and an Authlib error its own JSON answer."""
    server = server_of(request)
    try:
        oauth = await oauth_request(request)
    except FormError as exc:
        return invalid_request(str(exc))
    except OAuth2Error as error:  # insecure transport
        return server.handle_error_response(None, error)
    return await bridge.in_thread(call, server, oauth)


def _token_response(server: ModelyardServer, oauth: OAuthRequest) -> Response:
    """A token request without ``grant_type`` lacks a required parameter: RFC 6749 5.2's
    ``invalid_request`` (Authlib said ``unsupported_grant_type``, which means a grant type
    named but not served)."""
    if not oauth.payload.grant_type:
        return invalid_request("Missing 'grant_type' parameter.")
    return server.create_token_response(oauth)  # type: ignore[no-any-return]


async def serve_token(request: Request) -> Response:
    """POST /oauth/token through the registered grants."""
    return await serve(request, _token_response)


async def serve_endpoint(request: Request, name: str) -> Response:
    """A registered endpoint (``ENDPOINT_NAME`` ``name``) answers the request."""
    return await serve(request, lambda server, oauth: server.create_endpoint_response(name, oauth))
