"""The grants modelyard serves, as Authlib grant classes whose storage hooks reach the
registry through the bridge: authorization code (PKCE, S256 only, required of public
clients), refresh token (rotated on every use, reuse revokes the family) and client
credentials (acting as the client's service user)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
    UnauthorizedClientError,
    grants,
    scope_to_list,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy import select

from modelyard.api.oauth import bridge
from modelyard.api.oauth.models import AuthCode, Client, Person, Token
from modelyard.api.oauth.server import ModelyardServer
from modelyard.db.tables import User
from modelyard.registry import oauth_codes, oauth_tokens
from modelyard.registry.oauth_tokens import SERVER
from modelyard.registry.scopes import OIDC_SCOPES
from modelyard.registry.tx import Database

WITH_PUBLIC = ["client_secret_basic", "client_secret_post", "none"]
SECRET_ONLY = ["client_secret_basic", "client_secret_post"]


async def active_person(db: Database, user_id: Any) -> Person | None:
    """The user if they may still be acted for: active and not deleted."""
    async with db.read(SERVER) as tx:
        user = await tx.session.scalar(
            select(User).where(
                User.id == user_id, User.deleted_at.is_(None), User.status == "active"
            )
        )
        return None if user is None else Person.of(user)


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only (``plain`` refused), required of public clients already at the
    authorization request, so a misconfigured app learns it before the user signs in."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": CodeChallenge.CODE_CHALLENGE_METHODS["S256"]}
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        request: OAuth2Request = grant.request
        data = request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        client: Client = request.client
        if client.is_public and not challenge:
            raise InvalidRequestError(
                "This client must use PKCE: send code_challenge with code_challenge_method=S256."
            )
        if challenge and method != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = WITH_PUBLIC
    server: ModelyardServer

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        client: Client = request.client
        user: Person = request.user
        data = request.payload.data
        challenge = data.get("code_challenge")
        saved = oauth_codes.CodeRequest(
            client_pk=client.row.id,
            user_id=user.id,
            redirect_uri=request.payload.redirect_uri or "",
            scopes=scope_to_list(request.scope) or [],
            nonce=data.get("nonce") or None,
            code_challenge=challenge or None,
            code_challenge_method="S256" if challenge else None,
            auth_time=user.auth_time,  # type: ignore[arg-type]
        )
        bridge.wait(lambda: oauth_codes.save_code(self.server.db, code, saved))

    def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
        if not isinstance(code, str) or not code or len(code) > 200:
            return None
        db, client_pk = self.server.db, client.row.id
        row = bridge.wait(lambda: oauth_codes.claim_code(db, code, client_pk))
        if row is None:
            bridge.wait(lambda: oauth_codes.replayed(db, code, client_pk))
            return None
        return AuthCode(row)

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        """Nothing: the code was claimed (marked used) when it was read."""

    def authenticate_user(self, authorization_code: AuthCode) -> Person | None:
        """The code's user if still active and still connected to the app (a code issued
        just before they disconnected it on the connected-apps page is refused)."""
        row, db = authorization_code.row, self.server.db
        person = bridge.wait(lambda: active_person(db, row.user_id))
        if person is None or not bridge.wait(
            lambda: oauth_codes.consented(db, row.user_id, row.client_pk)
        ):
            return None
        return Person(**{**person.__dict__, "auth_time": row.auth_time})


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Every refresh returns a new refresh token and retires the one presented; presenting
    a retired one revokes every token descended from the same authorization."""

    TOKEN_ENDPOINT_AUTH_METHODS = WITH_PUBLIC
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: ModelyardServer

    def authenticate_refresh_token(self, refresh_token: str) -> Token:
        found = None
        if isinstance(refresh_token, str) and len(refresh_token) <= 200:
            found = bridge.wait(lambda: oauth_tokens.find_refresh(self.server.db, refresh_token))
        if found is None:
            raise InvalidGrantError(
                "The refresh token is unknown, expired, revoked or already used (a reused one "
                "revokes every token of its sign-in): sign in again."
            )
        return Token(found.token, Person.of(found.user), found.client)

    def authenticate_user(self, refresh_token: Token) -> Person:
        return refresh_token.get_user()

    def issue_token(self, user: Person, refresh_token: Token) -> Any:
        """The scopes asked for (else the sign-in's), less those the client is no longer
        registered for: narrowing a client's scopes reaches its refresh chains too, which
        would otherwise keep the old scopes forever (each rotation renews the chain)."""
        client: Client = self.request.client
        asked = scope_to_list(self.request.payload.scope or refresh_token.get_scope()) or []
        allowed = set(client.allowed_scopes())
        kept = [s for s in asked if s in allowed]
        if not kept:
            raise InvalidScopeError("The app is no longer registered for this sign-in's scopes.")
        return self.generate_token(
            user=user, scope=" ".join(kept), include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN
        )

    def save_token(self, token: dict[str, Any]) -> None:
        parent: Token = self.request.refresh_token
        issued = self.server.issued(token, self.request)
        try:
            bridge.wait(lambda: oauth_tokens.rotate(self.server.db, parent.row.id, issued))
        except oauth_tokens.RefreshReused:
            raise InvalidGrantError(
                "The refresh token was already used; every token of this sign-in is revoked."
            ) from None

    def revoke_old_credential(self, refresh_token: Token) -> None:
        """Nothing more: :meth:`save_token` retired it in the same transaction."""


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    """A confidential client acting as its own service user; API scopes only (no OIDC)."""

    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_ONLY
    server: ModelyardServer

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: Client = self.request.client
        asked = scope_to_list(self.request.payload.scope) or []
        if any(s in OIDC_SCOPES for s in asked):
            raise InvalidScopeError("OpenID Connect scopes need a user; ask for API scopes only.")
        service_user = client.row.service_user_id
        person = (
            None
            if service_user is None
            else bridge.wait(lambda: active_person(self.server.db, service_user))
        )
        if person is None:
            raise UnauthorizedClientError("This client has no active service user to act as.")
        self.request.user = person

    def generate_token(self, user: Any = None, scope: Any = None, **kwargs: Any) -> Any:
        client: Client = self.request.client
        if not scope:
            scope = " ".join(client.api_scopes())
            if not scope:
                raise InvalidScopeError("This client is registered for no API scope.")
        return super().generate_token(user=self.request.user, scope=scope, **kwargs)


def register(server: ModelyardServer) -> None:
    """The grants every modelyard server serves (OpenID Connect's on the code grant is
    added by ``oidc.register``)."""
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(RefreshTokenGrant)
