"""An OAuth access token (``myat_...``) as a credential: who it acts for, with which scopes,
through which client, until when.

One indexed query answers it (:func:`find`; :func:`find_many` for a batch), driven by the
single ``registry_state`` row so that the registry's generation comes back with the answer,
found or not: the gateway's token cache (``gateway/tokens.py``) keeps an answer only while
the snapshot it belongs to is current, and a revocation or suspension (audited, so it bumps
the generation) drops it.

A token is valid while its row is not revoked, its access expiry is in the future, its
client is enabled and its user is active and not deleted (the one rule, which introspection
answers by too). Its scopes are the row's: OpenID Connect's own (``openid``, ...)
grant no API access since no operation asks for them.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from modelyard.db.auth_tables import OAuthClient, OAuthToken
from modelyard.db.tables import RegistryState, User
from modelyard.errors import Unauthenticated
from modelyard.registry.actors import LABEL_MAX, Actor
from modelyard.registry.tx import Database

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
        return Actor(
            user_id=self.user_id, role=self.role, label=label, scopes=self.scopes, delegated=True
        )


def digest(token: str) -> str:
    """What ``oauth_tokens.access_hash`` holds for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    """Whether ``token`` could be an access token at all (no query otherwise)."""
    return SHAPE.fullmatch(token) is not None


async def find(db: Database, access_hash: str) -> tuple[int, Access | None]:
    """The registry's generation and the valid token whose hash is ``access_hash`` (None
    when there is none, or it is revoked, expired, its client disabled or its user not
    active)."""
    generation, found = await find_many(db, [access_hash])
    return generation, found.get(access_hash)


async def find_many(db: Database, hashes: Sequence[str]) -> tuple[int, dict[str, Access]]:
    """The registry's generation and, by hash, those of ``hashes`` that are valid tokens: one
    statement on the unique index of ``access_hash``, driven by the ``registry_state`` row so
    that the generation comes back even when no token matched."""
    probe = Actor(user_id=None, role="member", label="auth")
    async with db.read(probe) as tx:
        rows = (
            await tx.session.execute(
                select(
                    RegistryState.generation,
                    OAuthToken.access_hash,
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
                .outerjoin(OAuthToken, OAuthToken.access_hash.in_(list(hashes)))
                .outerjoin(OAuthClient, OAuthClient.id == OAuthToken.client_pk)
                .outerjoin(User, User.id == OAuthToken.user_id)
                .where(RegistryState.id == 1)
            )
        ).all()
        now = tx.now
    generation, found = 0, {}  # no registry_state row: not a migrated database
    for row in rows:
        generation = int(row[0])
        access_hash, token_id, scopes, expires, revoked, client_pk, client_id, enabled = row[1:9]
        user_id, role, email, status, deleted, rpm, tpm = row[9:]
        valid = (
            token_id is not None
            and revoked is None
            and expires > now
            and enabled
            and user_id is not None
            and status == "active"
            and deleted is None
        )
        if valid:
            found[access_hash] = Access(
                token_id,
                user_id,
                role,
                email,
                frozenset(scopes),
                client_pk,
                client_id,
                expires,
                rpm,
                tpm,
            )
    return generation, found


async def authenticate(db: Database, token: str) -> Actor:
    """The actor behind an access token on the admin API, or UNAUTHENTICATED (never saying
    which check failed). One query per request, as API keys cost there."""
    if not well_formed(token):
        raise Unauthenticated(DENIED)
    _generation, access = await find(db, digest(token))
    if access is None:
        raise Unauthenticated(DENIED)
    return access.actor()
