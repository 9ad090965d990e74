"""ORM tables of sign-in: OAuth clients, codes, tokens, consents, device codes, signing keys,
browser sessions, failed sign-ins and identities at upstream OpenID providers.

Secrets are never stored: codes, tokens, client secrets and session tokens are kept as the
SHA-256 of their text (they are long random strings, so a plain hash suffices); signing keys'
private halves are sealed by the master key like provider keys.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.db.tables import Base, _created, _user_ref, _uuid_pk
from modelyard.db.types import JSONDoc, UTCDateTime


def _client_ref() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True)


def _owner() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class OAuthClient(Base):
    """An application that signs users in: public (a desktop or browser app, PKCE, no secret)
    or confidential (a server holding a secret). ``service_user_id`` is the user a client
    acts as with the client-credentials grant."""

    __tablename__ = "oauth_clients"
    __table_args__ = (
        CheckConstraint("client_type IN ('public', 'confidential')", name="client_type"),
        CheckConstraint(
            "(client_type = 'public' AND secret_hash IS NULL) OR "
            "(client_type = 'confidential' AND secret_hash IS NOT NULL)",
            name="secret_matches_type",
        ),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")
    client_type: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    secret_prefix: Mapped[str | None] = mapped_column(String(16), nullable=True)
    redirect_uris: Mapped[list[str]] = mapped_column(JSONDoc)
    grant_types: Mapped[list[str]] = mapped_column(JSONDoc)
    scopes: Mapped[list[str]] = mapped_column(JSONDoc)
    service_user_id: Mapped[uuid.UUID | None] = _user_ref()
    skip_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[uuid.UUID | None] = _user_ref()
    updated_by: Mapped[uuid.UUID | None] = _user_ref()
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class OAuthCode(Base):
    """An authorization code: one use, short-lived, bound to its redirect URI and PKCE
    challenge."""

    __tablename__ = "oauth_codes"
    id: Mapped[uuid.UUID] = _uuid_pk()
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[uuid.UUID] = _client_ref()
    user_id: Mapped[uuid.UUID] = _owner()
    redirect_uri: Mapped[str] = mapped_column(String(2000), default="")
    scopes: Mapped[list[str]] = mapped_column(JSONDoc)
    nonce: Mapped[str | None] = mapped_column(String(255), nullable=True)
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(10), nullable=True)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OAuthToken(Base):
    """An access token and, usually, its refresh token. Refreshing makes a new row in the
    same ``family_id`` and marks this one ``refreshed_at``; presenting a refreshed refresh
    token again revokes the whole family."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (Index("ix_oauth_tokens_user_client", "user_id", "client_pk"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    client_pk: Mapped[uuid.UUID] = _client_ref()
    user_id: Mapped[uuid.UUID] = _owner()
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    access_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    scopes: Mapped[list[str]] = mapped_column(JSONDoc)
    grant_type: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = _created()
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


class OAuthConsent(Base):
    """The scopes a user granted a client, remembered until they revoke it."""

    __tablename__ = "oauth_consents"
    __table_args__ = (UniqueConstraint("user_id", "client_pk"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = _owner()
    client_pk: Mapped[uuid.UUID] = _client_ref()
    scopes: Mapped[list[str]] = mapped_column(JSONDoc)
    granted_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class OAuthDeviceCode(Base):
    """A device authorization (RFC 8628): the device polls with ``device_code`` while its
    user approves ``user_code`` in a browser."""

    __tablename__ = "oauth_device_codes"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'denied', 'used')", name="status"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    device_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_code: Mapped[str] = mapped_column(String(16), unique=True)
    client_pk: Mapped[uuid.UUID] = _client_ref()
    scopes: Mapped[list[str]] = mapped_column(JSONDoc)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    interval_s: Mapped[int] = mapped_column(Integer, default=5)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OAuthSigningKey(Base):
    """A key that signs ID tokens. The newest unretired key signs; retired keys stay in the
    JWKS until ``expires_at`` (when the last token they signed has expired)."""

    __tablename__ = "oauth_signing_keys"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    private_sealed: Mapped[str] = mapped_column(String(8000))
    public_jwk: Mapped[Any] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = _created()
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebSession(Base):
    """A signed-in browser: the cookie holds a random token, this row its hash, the CSRF
    token of its forms, and when it ends."""

    __tablename__ = "web_sessions"
    id: Mapped[uuid.UUID] = _uuid_pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = _owner()
    csrf_token: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(100), default="password")
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = _created()
    last_seen_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LoginFailure(Base):
    """A failed sign-in, counted per account and per address to throttle guessing."""

    __tablename__ = "login_failures"
    id: Mapped[uuid.UUID] = _uuid_pk()
    email_normalized: Mapped[str] = mapped_column(String(320), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class UserIdentity(Base):
    """A user's account at an upstream OpenID provider they sign in through."""

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = _owner()
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = _created()
