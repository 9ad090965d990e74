"""An OAuth access token (``myat_...``) as a credential: who it acts for, with which scopes,
through which client, until when.

One indexed query answers it (:func:`find`), driven by the single ``registry_state`` row so
that the registry's generation comes back with the answer, found or not: the gateway's token
cache (``gateway/tokens.py``) keeps an answer only while the snapshot it belongs to is
current, and a revocation or suspension (audited, so it bumps the generation) drops it.

A token is valid while its row is not revoked, its access expiry is in the future, its
client is enabled and its user is active and not deleted (the design's one rule, also what
introspection answers). Its scopes are the row's: OpenID Connect's own (``openid``, ...)
grant no API access since no operation asks for them.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from modelyard.db.auth_tables import OAuthClient, OAuthToken
from modelyard.db.tables import RegistryState, User
from modelyard.errors import Unauthenticated
from modelyard.registry.actors import LABEL_MAX, Actor
from modelyard.registry.tx import Database

ACCESS_PREFIX = "myat_"
# "myat_" + secrets.token_urlsafe(32) is 43 characters; anything far from that shape is
# refused without a query (a little room either way, should the length ever change).
SHAPE = re.compile(r"myat_[A-Za-z0-9_-]{32,128}")
DENIED = "invalid, expired or revoked access token"


@dataclass(frozen=True, slots=True)
class Access:
    """A valid access token's grant, as read in one query."""

    token_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    email: str
    scopes: frozenset[str]
    client_pk: uuid.UUID
    client_id: str
    expires_at: datetime
    user_rpm_limit: int | None
    user_tpm_limit: int | None

    def actor(self) -> Actor:
        """The actor on the admin API: the user, held to the token's scopes, labelled with
        the client acting for them (audit events say "user:ann@example.com via app")."""
        label = f"user:{self.email} via {self.client_id}"[:LABEL_MAX]
        return Actor(user_id=self.user_id, role=self.role, label=label, scopes=self.scopes)


def digest(token: str) -> str:
    """What ``oauth_tokens.access_hash`` holds for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    """Whether ``token`` could be an access token at all (no query otherwise)."""
    return SHAPE.fullmatch(token) is not None


async def find(db: Database, access_hash: str) -> tuple[int, Access | None]:
    """The registry's generation and the valid token whose hash is ``access_hash`` (None
    when there is none, or it is revoked, expired, its client disabled or its user not
    active), in one statement on the unique index of ``access_hash``."""
    probe = Actor(user_id=None, role="member", label="auth")
    async with db.read(probe) as tx:
        row = (
            await tx.session.execute(
                select(
                    RegistryState.generation,
                    OAuthToken.id,
                    OAuthToken.scopes,
                    OAuthToken.access_expires_at,
                    OAuthToken.revoked_at,
                    OAuthClient.id,
                    OAuthClient.client_id,
                    OAuthClient.enabled,
                    User.id,
                    User.role,
                    User.email,
                    User.status,
                    User.deleted_at,
                    User.rpm_limit,
                    User.tpm_limit,
                )
                .select_from(RegistryState)
                .outerjoin(OAuthToken, OAuthToken.access_hash == access_hash)
                .outerjoin(OAuthClient, OAuthClient.id == OAuthToken.client_pk)
                .outerjoin(User, User.id == OAuthToken.user_id)
                .where(RegistryState.id == 1)
            )
        ).first()
        now = tx.now
    if row is None:  # no registry_state row: not a migrated database
        return 0, None
    (generation, token_id, scopes, expires, revoked, client_pk, client_id, enabled) = row[:8]
    user_id, role, email, status, deleted, rpm, tpm = row[8:]
    valid = (
        token_id is not None
        and revoked is None
        and expires > now
        and enabled
        and user_id is not None
        and status == "active"
        and deleted is None
    )
    if not valid:
        return int(generation), None
    access = Access(
        token_id, user_id, role, email, frozenset(scopes), client_pk, client_id, expires, rpm, tpm
    )
    return int(generation), access


async def authenticate(db: Database, token: str) -> Actor:
    """The actor behind an access token on the admin API, or UNAUTHENTICATED (never saying
    which check failed). One query per request, as API keys cost there."""
    if not well_formed(token):
        raise Unauthenticated(DENIED)
    _generation, access = await find(db, digest(token))
    if access is None:
        raise Unauthenticated(DENIED)
    return access.actor()
