"""OAuth access and refresh tokens: minted, rotated, revoked. Only their SHA-256 is stored.

A row holds one access token and, usually, its refresh token. Refreshing marks the row
``refreshed_at`` and adds a row to the same ``family_id`` (the chain that began with one
authorization); a refresh token presented again after it was used means it leaked (or the
app raced itself), so the whole family is revoked (RFC 9700 section 4.14.2).

Issuing is not audited (it is not a configuration change); every revocation is, which bumps
the registry generation so every gateway drops the tokens it cached within a second.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Select, delete, or_, select, update

from modelyard.db.auth_tables import OAuthClient, OAuthToken
from modelyard.db.tables import SystemSetting, User
from modelyard.registry.actors import Actor
from modelyard.registry.system_settings import KNOWN
from modelyard.registry.tx import Database, Tx

ACCESS_PREFIX = "myat_"
REFRESH_PREFIX = "myrt_"
KEEP_EXPIRED = timedelta(days=1)  # how long rows outlive their last expiry
# Who revokes a family when a refresh token is reused: the server itself, not a person.
SERVER = Actor(user_id=None, role="member", label="oauth-server", scopes=frozenset())


def digest(text: str) -> str:
    """What is stored of a token, code or secret: long random strings need no slow hash."""
    return hashlib.sha256(text.encode()).hexdigest()


def new_access_token() -> str:
    return ACCESS_PREFIX + secrets.token_urlsafe(32)


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Lifetimes:
    """The ``auth.*_ttl_s`` system settings, read once per request that needs them."""

    access_s: int
    refresh_s: int
    code_s: int


async def setting_int(tx: Tx, key: str) -> int:
    """A known integer system setting: its stored value, else its default."""
    row = await tx.session.get(SystemSetting, key)
    return int(row.value if row is not None else KNOWN[key].default)


async def lifetimes(db: Database) -> Lifetimes:
    async with db.read(SERVER) as tx:
        return Lifetimes(
            access_s=await setting_int(tx, "auth.access_token_ttl_s"),
            refresh_s=await setting_int(tx, "auth.refresh_token_ttl_s"),
            code_s=await setting_int(tx, "auth.code_ttl_s"),
        )


class RefreshReused(Exception):
    """A refresh token that was already exchanged came back; its family is now revoked."""


@dataclass(frozen=True)
class Issued:
    """What :func:`store` and :func:`rotate` are handed: the plaintext tokens (hashed here,
    never kept) and what they grant."""

    access_token: str
    refresh_token: str | None
    scopes: list[str]
    grant_type: str
    ttl: Lifetimes


def _row(
    tx: Tx,
    issued: Issued,
    *,
    client_pk: uuid.UUID,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    parent_id: uuid.UUID | None,
) -> OAuthToken:
    refresh = issued.refresh_token
    row = OAuthToken(
        id=uuid.uuid4(),
        client_pk=client_pk,
        user_id=user_id,
        family_id=family_id,
        parent_id=parent_id,
        access_hash=digest(issued.access_token),
        refresh_hash=digest(refresh) if refresh else None,
        scopes=issued.scopes,
        grant_type=issued.grant_type,
        issued_at=tx.now,
        access_expires_at=tx.now + timedelta(seconds=issued.ttl.access_s),
        refresh_expires_at=(tx.now + timedelta(seconds=issued.ttl.refresh_s)) if refresh else None,
    )
    tx.session.add(row)
    return row


async def store(
    db: Database,
    issued: Issued,
    *,
    client_pk: uuid.UUID,
    user_id: uuid.UUID,
    family_id: uuid.UUID | None = None,
) -> OAuthToken:
    """A new family's first tokens (after a code, client credentials or a device grant).
    Tokens from an authorization code take the code's row id as their family, so a replayed
    code can revoke what it was exchanged for (RFC 6749 section 4.1.2)."""
    async with db.write(SERVER) as tx:
        await _forget_expired(tx, user_id, client_pk)
        family = family_id or uuid.uuid4()
        return _row(
            tx, issued, client_pk=client_pk, user_id=user_id, family_id=family, parent_id=None
        )


async def rotate(db: Database, parent_id: uuid.UUID, issued: Issued) -> OAuthToken:
    """Exchange the refresh token of row ``parent_id`` for ``issued``, in one transaction
    (writes are serialised, so of two racing refreshes exactly one wins). The loser, or any
    later use, revokes the family and raises :class:`RefreshReused`."""
    async with db.write(SERVER) as tx:
        parent = await tx.session.get(OAuthToken, parent_id)
        if parent is None:
            raise RefreshReused()
        if parent.refreshed_at is None and parent.revoked_at is None:
            parent.refreshed_at = tx.now
            return _row(
                tx,
                issued,
                client_pk=parent.client_pk,
                user_id=parent.user_id,
                family_id=parent.family_id,
                parent_id=parent.id,
            )
        family = parent.family_id
    await revoke_family_now(db, family, "refresh_token_reused")
    raise RefreshReused()


async def _forget_expired(tx: Tx, user_id: uuid.UUID, client_pk: uuid.UUID) -> None:
    """Delete this user's rows for this client that nothing can use any more (expired a
    day ago), so the table holds live sign-ins, not history; done where rows are added,
    through the (user, client) index, instead of by a job."""
    cutoff = tx.now - KEEP_EXPIRED
    await tx.session.execute(
        delete(OAuthToken)
        .where(
            OAuthToken.user_id == user_id,
            OAuthToken.client_pk == client_pk,
            OAuthToken.access_expires_at < cutoff,
            or_(OAuthToken.refresh_expires_at.is_(None), OAuthToken.refresh_expires_at < cutoff),
        )
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Usable:
    """A token row that may be used now, with what decides it: the client and the user."""

    token: OAuthToken
    client: OAuthClient
    user: User


def _usable_query() -> Select[OAuthToken, OAuthClient, User]:
    return (
        select(OAuthToken, OAuthClient, User)
        .join(OAuthClient, OAuthClient.id == OAuthToken.client_pk)
        .join(User, User.id == OAuthToken.user_id)
        .where(
            OAuthToken.revoked_at.is_(None),
            OAuthClient.enabled.is_(True),
            User.deleted_at.is_(None),
            User.status == "active",
        )
    )


async def find_refresh(db: Database, refresh_token: str) -> Usable | None:
    """The row a refresh token belongs to if it may be exchanged; a token already exchanged
    revokes its family (reuse) and is refused like an unknown one."""
    if not refresh_token.startswith(REFRESH_PREFIX):
        return None
    async with db.read(SERVER) as tx:
        found = (
            await tx.session.execute(
                _usable_query().where(OAuthToken.refresh_hash == digest(refresh_token))
            )
        ).first()
        if found is None:
            return None
        usable = Usable(found[0], found[1], found[2])
        expires = usable.token.refresh_expires_at
        if expires is not None and expires <= tx.now:
            return None
    if usable.token.refreshed_at is not None:
        await revoke_family_now(db, usable.token.family_id, "refresh_token_reused")
        return None
    return usable


async def find_access(db: Database, access_token: str) -> Usable | None:
    """The row of a valid access token (not revoked or expired, client enabled, user
    active), for the userinfo endpoint; the gateway has its own cached look-up."""
    if not access_token.startswith(ACCESS_PREFIX):
        return None
    async with db.read(SERVER) as tx:
        found = (
            await tx.session.execute(
                _usable_query().where(
                    OAuthToken.access_hash == digest(access_token),
                    OAuthToken.access_expires_at > tx.now,
                )
            )
        ).first()
        return None if found is None else Usable(found[0], found[1], found[2])


def _audit_view(row: OAuthToken) -> dict[str, object]:
    """What an audit event says of a token: never a hash."""
    return {
        "id": str(row.id),
        "client_pk": str(row.client_pk),
        "user_id": str(row.user_id),
        "family_id": str(row.family_id),
        "scopes": list(row.scopes),
        "grant_type": row.grant_type,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "revoked_reason": row.revoked_reason,
    }


async def revoke(tx: Tx, row: OAuthToken, reason: str) -> bool:
    """Revoke one token row (its access and refresh token); False if it already was."""
    if row.revoked_at is not None:
        return False
    before = _audit_view(row)
    row.revoked_at = tx.now
    row.revoked_reason = reason
    await tx.record(
        "oauth_token.revoke", "oauth_token", row.id, before=before, after=_audit_view(row)
    )
    return True


async def revoke_where(tx: Tx, reason: str, *conditions: object) -> int:
    """Revoke the live tokens matching ``conditions``; how many. Not audited: the caller
    records the change (which moves the generation every gateway watches)."""
    result = await tx.session.execute(
        update(OAuthToken)
        .where(OAuthToken.revoked_at.is_(None), *conditions)  # type: ignore[arg-type]
        .values(revoked_at=tx.now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def revoke_family(tx: Tx, family_id: uuid.UUID, reason: str) -> int:
    """Revoke every token of a family (one audit event for the family); how many were live."""
    count = await revoke_where(tx, reason, OAuthToken.family_id == family_id)
    if count:
        await tx.record(
            "oauth_token.revoke_family",
            "oauth_token_family",
            family_id,
            after={"revoked": count, "reason": reason},
        )
    return count


async def revoke_family_now(db: Database, family_id: uuid.UUID, reason: str) -> int:
    async with db.write(SERVER) as tx:
        return await revoke_family(tx, family_id, reason)


async def revoke_for(
    tx: Tx, user_id: uuid.UUID, client_pk: uuid.UUID, reason: str = "consent_revoked"
) -> int:
    """Revoke every token ``client_pk`` holds for ``user_id`` (a connected app removed);
    one audit event; how many were live."""
    count = await revoke_where(
        tx, reason, OAuthToken.user_id == user_id, OAuthToken.client_pk == client_pk
    )
    if count:
        await tx.record(
            "oauth_token.revoke_for",
            "oauth_client",
            client_pk,
            after={"user_id": str(user_id), "revoked": count, "reason": reason},
        )
    return count
