"""A token a client presents back to the server: to revoke it (RFC 7009) or to ask whether
it is active (RFC 7662).

Either kind is found by its hash, whatever its state (a revoked or expired token may still be
revoked, harmlessly, and is reported inactive). A token is active when its row is not
revoked, its client is enabled and its user active and not deleted, and: for an access token,
it has not expired; for a refresh token, it has not expired nor been exchanged already.

Revoking an access token revokes its row (the access token and the refresh token issued with
it); revoking a refresh token revokes its whole family (every token descended from the same
authorization), as RFC 7009 section 2.1 advises. Both are audited by
:mod:`modelyard.registry.oauth_tokens`, which bumps the registry generation so every gateway
drops the tokens within a second.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from modelyard.db.auth_tables import OAuthClient, OAuthToken
from modelyard.db.tables import User
from modelyard.registry import oauth_tokens
from modelyard.registry.actors import Actor
from modelyard.registry.tx import Database, Tx

Kind = Literal["access_token", "refresh_token"]
KINDS: tuple[Kind, ...] = ("access_token", "refresh_token")


@dataclass(frozen=True)
class Presented:
    """What the server knows of a presented token (never its text or hash)."""

    row_id: uuid.UUID
    family_id: uuid.UUID
    kind: Kind
    client_pk: uuid.UUID
    client_id: str
    user_id: uuid.UUID
    email: str
    scopes: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime | None
    active: bool


def kind_of(text: str) -> Kind | None:
    """Which kind ``text`` is: its prefix says (``myat_``, ``myrt_``), so a client's
    ``token_type_hint`` is never needed (RFC 7009: a wrong hint is no error)."""
    if text.startswith(oauth_tokens.ACCESS_PREFIX):
        return "access_token"
    if text.startswith(oauth_tokens.REFRESH_PREFIX):
        return "refresh_token"
    return None


async def _find(tx: Tx, text: str) -> tuple[OAuthToken, Kind] | None:
    kind = kind_of(text)
    if kind is None:
        return None
    column = OAuthToken.access_hash if kind == "access_token" else OAuthToken.refresh_hash
    row = await tx.session.scalar(select(OAuthToken).where(column == oauth_tokens.digest(text)))
    return None if row is None else (row, kind)


def _active(tx: Tx, row: OAuthToken, kind: Kind, client: OAuthClient, user: User) -> bool:
    if row.revoked_at is not None or not client.enabled:
        return False
    if user.deleted_at is not None or user.status != "active":
        return False
    if kind == "access_token":
        return row.access_expires_at > tx.now
    expires = row.refresh_expires_at
    return row.refreshed_at is None and (expires is None or expires > tx.now)


async def lookup(db: Database, actor: Actor, text: str) -> Presented | None:
    """The presented token's facts and whether it is active now; None when unknown."""
    if len(text) > 200:
        return None
    async with db.read(actor) as tx:
        found = await _find(tx, text)
        if found is None:
            return None
        row, kind = found
        client = await tx.session.get(OAuthClient, row.client_pk)
        user = await tx.session.get(User, row.user_id)
        if client is None or user is None:
            return None
        return Presented(
            row_id=row.id,
            family_id=row.family_id,
            kind=kind,
            client_pk=client.id,
            client_id=client.client_id,
            user_id=user.id,
            email=user.email,
            scopes=tuple(row.scopes),
            issued_at=row.issued_at,
            expires_at=row.access_expires_at if kind == "access_token" else row.refresh_expires_at,
            active=_active(tx, row, kind, client, user),
        )


async def revoke(db: Database, actor: Actor, presented: Presented) -> int:
    """Revoke ``presented`` (its row, or its family for a refresh token); how many tokens
    were live. Revoking twice changes nothing and records nothing."""
    async with db.write(actor) as tx:
        if presented.kind == "refresh_token":
            return await oauth_tokens.revoke_family(tx, presented.family_id, "revoked_by_client")
        row = await tx.session.get(OAuthToken, presented.row_id)
        if row is None:
            return 0
        return int(await oauth_tokens.revoke(tx, row, "revoked_by_client"))
