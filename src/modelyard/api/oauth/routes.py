"""The authorization server's routes and its assembly: POST /oauth/token, GET/POST
/oauth/userinfo, GET /oauth/jwks, the discovery documents, and /oauth/authorize
(``authorize.py``). None is in the OpenAPI document: they follow OAuth's wire, not the
admin API's (their own error shape, form bodies, no API-key scopes)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import rfc9207
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from modelyard.api.oauth import authorize, device, grants, oidc, revocation
from modelyard.api.oauth.server import (
    ModelyardServer,
    json_response,
    serve_endpoint,
    serve_token,
    server_of,
)
from modelyard.errors import Misconfigured
from modelyard.registry.scopes import OIDC_SCOPES, SCOPES
from modelyard.registry.signing_keys import jwks, signing_key

router = APIRouter(include_in_schema=False)
PUBLIC_CACHE = [("Content-Type", "application/json"), ("Cache-Control", "public, max-age=300")]
CLAIMS = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name", "email",
          "email_verified", "role"]  # fmt: skip


@router.post("/oauth/token")
async def token(request: Request) -> Response:
    return await serve_token(request)


@router.api_route("/oauth/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request) -> Response:
    return await serve_endpoint(request, "userinfo")


@router.get("/oauth/jwks")
async def jwks_document(request: Request) -> Response:
    """The public keys that sign ID tokens: the current one and retired ones until the
    tokens they signed have expired. Cached briefly: a rotation is seen within minutes,
    and a key is published before it signs. The first key is made when the set is first
    asked for, so a client that fetches it ahead of any sign-in finds the key."""
    server = server_of(request)
    document = await jwks(server.db)
    if not document["keys"]:
        await signing_key(server.db)
        document = await jwks(server.db)
    return json_response(200, document, PUBLIC_CACHE)


def metadata(server: ModelyardServer) -> dict[str, Any]:
    """The server's metadata (RFC 8414 / OpenID Connect Discovery), from what is registered:
    grant types from the grants, extra endpoints from ``server.advertise``."""
    grant_types = []
    for grant_cls, _ in server._token_grants:
        if grant_cls.GRANT_TYPE not in grant_types:
            grant_types.append(grant_cls.GRANT_TYPE)
    data: dict[str, Any] = {
        "issuer": server.issuer,
        "authorization_endpoint": server.url("/oauth/authorize"),
        "token_endpoint": server.url("/oauth/token"),
        "userinfo_endpoint": server.url("/oauth/userinfo"),
        "jwks_uri": server.url("/oauth/jwks"),
        "scopes_supported": [*OIDC_SCOPES, *SCOPES],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grant_types,
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [oidc.ALG],
        "claims_supported": CLAIMS,
        "prompt_values_supported": ["none", "consent", "login"],
        "authorization_response_iss_parameter_supported": True,
        # omitted, request_uri_parameter_supported means true (OpenID Connect Discovery)
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }
    data.update(server.metadata)
    return data


def _validated(document: AuthorizationServerMetadata) -> Response:
    try:
        document.validate(metadata_classes=[rfc9207.AuthorizationServerMetadata])
    except ValueError as exc:
        raise Misconfigured(
            f"the OAuth server's metadata is not valid ({exc}); set MODELYARD_PUBLIC_URL "
            "to the https URL clients reach this server at"
        ) from None
    return json_response(200, dict(document), PUBLIC_CACHE)


@router.get("/.well-known/openid-configuration")
async def openid_configuration(request: Request) -> Response:
    return _validated(OpenIDProviderMetadata(metadata(server_of(request))))


@router.get("/.well-known/oauth-authorization-server")
async def authorization_server(request: Request) -> Response:
    return _validated(AuthorizationServerMetadata(metadata(server_of(request))))


def build(app: FastAPI) -> ModelyardServer:
    """The app's server with every grant and endpoint modelyard serves."""
    server = ModelyardServer(app.state)
    grants.register(server)
    oidc.register(server)
    device.register(server)  # RFC 8628
    revocation.register(server)  # RFC 7009 and 7662
    return server


def install(app: FastAPI) -> None:
    """Mount the authorization server on ``app`` (``app.state.oauth_server``)."""
    app.state.oauth_server = build(app)
    app.include_router(router)
    app.include_router(authorize.router)
    app.include_router(device.router)
    app.include_router(revocation.router)
