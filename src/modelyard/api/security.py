"""Scopes as HTTP and OpenAPI say them, for the admin API and ``/v1`` alike.

A refusal for a missing scope carries RFC 6750's challenge, ``WWW-Authenticate: Bearer
error="insufficient_scope", scope="<scope>"``, so an OAuth client knows which scope to ask
the user for without parsing our body; a 401 carries a bare ``Bearer`` challenge.

In the OpenAPI, every operation that takes a credential names the one scope it needs: its
``security`` lists the OAuth 2 scheme (:data:`OAUTH2`, whose flows list the vocabulary) and
each other scheme it accepts (API keys as bearer tokens, ``x-api-key``), all requiring that
scope (OpenAPI 3.1 allows scopes, as role names, on non-OAuth schemes), and
``x-required-scope`` says it once more for tools that read a single field.

No web framework here: the ``/v1`` hot path uses :func:`challenge` too.
"""

from __future__ import annotations

from typing import Any

from modelyard.errors import InsufficientScope, ModelyardError
from modelyard.registry.scopes import DESCRIPTIONS, OIDC_SCOPES, SCOPES

OAUTH2 = "OAuth2"
REQUIRED = "x-required-scope"
# Where the authorization server answers (api/oauth), under the issuer's URL.
AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - an endpoint, not a secret


def challenge(error: ModelyardError) -> str | None:
    """The ``WWW-Authenticate`` value answering ``error``, or None when it needs none."""
    if isinstance(error, InsufficientScope):
        return f'Bearer error="insufficient_scope", scope="{error.scope}"'
    if error.status == 401:
        return "Bearer"
    return None


def oauth2_scheme(issuer: str) -> dict[str, Any]:
    """The OAuth 2 security scheme: the flows modelyard serves, each with every scope, at
    the ``issuer``'s URLs (OpenAPI 3.1 wants absolute ones)."""
    authorize, token = issuer.rstrip("/") + AUTHORIZE_PATH, issuer.rstrip("/") + TOKEN_PATH
    scopes = {name: DESCRIPTIONS[name] for name in (*SCOPES, *OIDC_SCOPES)}
    return {
        "type": "oauth2",
        "description": (
            "An OAuth 2 access token (myat_...) from modelyard's authorization server; "
            "API keys (myk_...) carry the same scopes. Each operation names the one scope "
            "it needs (`x-required-scope`); registry.read covers models.read, credits.read "
            "and user.info."
        ),
        "flows": {
            "authorizationCode": {
                "authorizationUrl": authorize,
                "tokenUrl": token,
                "refreshUrl": token,
                "scopes": scopes,
            },
            "clientCredentials": {"tokenUrl": token, "refreshUrl": token, "scopes": scopes},
        },
    }


def declare(operation: dict[str, Any], scope: str) -> None:
    """Make ``operation`` require ``scope``: through OAuth 2 or any scheme it already lists."""
    others = [name for need in operation.get("security", []) for name in need if name != OAUTH2]
    operation["security"] = [{OAUTH2: [scope]}, *({name: [scope]} for name in others)]
    operation[REQUIRED] = scope


def add_scheme(schema: dict[str, Any], issuer: str) -> None:
    """Put the OAuth 2 scheme among ``schema``'s security schemes."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes.setdefault(OAUTH2, oauth2_scheme(issuer))
