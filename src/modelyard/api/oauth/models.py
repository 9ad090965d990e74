"""The registry's rows as Authlib expects them: a client (``ClientMixin``), an authorization
code (OIDC's ``AuthorizationCodeMixin``), a token (``TokenMixin``) and the signed-in person.

They wrap rows already loaded; none of them queries the database (the grants do, through
the bridge). A ``Client`` lives for one request, so per-request values (token lifetimes,
the signing key of its ID token) may be kept on it."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, list_to_scope, scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin

from modelyard.db.auth_tables import OAuthClient, OAuthCode, OAuthToken
from modelyard.db.tables import User
from modelyard.registry.oauth_clients import redirect_uri_matches
from modelyard.registry.oauth_tokens import Lifetimes, digest
from modelyard.registry.scopes import OIDC_SCOPES

SECRET_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True)
class Person:
    """The user a grant acts for: whom codes and tokens are issued to, what userinfo says."""

    id: uuid.UUID
    email: str
    display_name: str
    role: str
    email_verified: bool
    auth_time: datetime | None = None

    @classmethod
    def of(cls, user: User, auth_time: datetime | None = None) -> Person:
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            email_verified=user.email_verified,
            auth_time=auth_time,
        )

    def get_user_id(self) -> str:  # what Authlib calls on a user
        return str(self.id)


class Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, row: OAuthClient) -> None:
        self.row = row
        self.client_id = row.client_id
        self.client_metadata: dict[str, Any] = {}
        self.lifetimes: Lifetimes | None = None  # loaded when a token is made
        self.signing: tuple[str, dict[str, Any]] | None = None  # (kid, private JWK)

    @property
    def is_public(self) -> bool:
        return self.row.client_type == "public"

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        """Only when exactly one is registered: with several, the request must name one."""
        uris = self.row.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scopes asked for if the client may have them all (None: invalid_scope; a
        silently narrowed grant surprises the app). No scope asked: everything the client
        is registered for. ``offline_access`` is allowed to any client allowed to refresh."""
        allowed = self.allowed_scopes()
        if not scope:
            return list_to_scope(allowed)  # type: ignore[no-any-return]
        asked = scope_to_list(scope)
        if any(s not in allowed for s in asked):
            return None
        return list_to_scope(sorted(set(asked), key=asked.index))  # type: ignore[no-any-return]

    def allowed_scopes(self) -> list[str]:
        """What the client is registered for today (and ``offline_access`` if it may
        refresh: what it asks for, the grant already allows)."""
        allowed = list(self.row.scopes)
        if "refresh_token" in self.row.grant_types and "offline_access" not in allowed:
            allowed.append("offline_access")
        return allowed

    def api_scopes(self) -> list[str]:
        return [s for s in self.row.scopes if s not in OIDC_SCOPES]

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri_matches(list(self.row.redirect_uris), redirect_uri)

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.row.secret_hash
        if not stored or not isinstance(client_secret, str):
            return False
        return hmac.compare_digest(digest(client_secret), stored)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Public clients send no secret (``none``); confidential ones must send theirs."""
        if self.is_public:
            return method == "none"
        return method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.row.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials" and self.is_public:
            return False
        return grant_type in self.row.grant_types


class AuthCode(AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, row: OAuthCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return list_to_scope(list(self.row.scopes))  # type: ignore[no-any-return]

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(self.row.auth_time.timestamp())


class Token(TokenMixin):  # type: ignore[misc]
    """A token row found valid (see ``registry/oauth_tokens.py``), with its user."""

    def __init__(self, row: OAuthToken, user: Person, client: OAuthClient) -> None:
        self.row = row
        self.user = user
        self.client = client
        self.scope = list_to_scope(list(row.scopes))

    def check_client(self, client: Client) -> bool:
        return bool(self.row.client_pk == client.row.id)

    def get_scope(self) -> str:
        return self.scope  # type: ignore[no-any-return]

    def get_expires_in(self) -> int:
        return int((self.row.access_expires_at - self.row.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return False  # found valid at look-up

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None

    def get_user(self) -> Person:
        return self.user

    def get_client(self) -> Client:
        return Client(self.client)
