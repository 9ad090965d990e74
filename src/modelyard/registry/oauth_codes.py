"""Authorization codes and remembered consent: the two things the authorization endpoint
writes before any token exists.

A code is stored as its SHA-256, bound to its client, redirect URI, scopes, PKCE challenge,
nonce and the time the user signed in; it is claimed at most once (an atomic UPDATE), so two
racing exchanges cannot both get tokens. Consent is remembered per user and client as the
union of the scopes they approved; removing it (the connected-apps page) is the user's
revocation. Neither is audited: they are not configuration changes.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from modelyard.db.auth_tables import OAuthCode, OAuthConsent
from modelyard.registry.oauth_tokens import SERVER, digest, revoke_family, setting_int
from modelyard.registry.tx import Database, Tx

KEEP = timedelta(hours=1)  # a used code is kept this long after it expires: replays detected


def new_code() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class CodeRequest:
    """What a code remembers of the authorization request that made it."""

    client_pk: uuid.UUID
    user_id: uuid.UUID
    redirect_uri: str
    scopes: list[str]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: datetime


async def save_code(db: Database, code: str, request: CodeRequest) -> None:
    async with db.write(SERVER) as tx:
        ttl = await setting_int(tx, "auth.code_ttl_s")
        await tx.session.execute(  # this client's codes long expired: nothing to keep
            delete(OAuthCode)
            .where(OAuthCode.client_pk == request.client_pk, OAuthCode.expires_at < tx.now - KEEP)
            .execution_options(synchronize_session=False)
        )
        tx.session.add(
            OAuthCode(
                id=uuid.uuid4(),
                code_hash=digest(code),
                client_pk=request.client_pk,
                user_id=request.user_id,
                redirect_uri=request.redirect_uri,
                scopes=request.scopes,
                nonce=request.nonce,
                code_challenge=request.code_challenge,
                code_challenge_method=request.code_challenge_method,
                auth_time=request.auth_time,
                created_at=tx.now,
                expires_at=tx.now + timedelta(seconds=ttl),
            )
        )


async def claim_code(db: Database, code: str, client_pk: uuid.UUID) -> OAuthCode | None:
    """The code's row if it was issued to ``client_pk``, is unexpired and unused; it is
    marked used in the same transaction, so it never works twice (even when the exchange
    then fails on its verifier or redirect URI: the client starts again)."""
    async with db.write(SERVER) as tx:
        claimed = await tx.session.execute(
            update(OAuthCode)
            .where(
                OAuthCode.code_hash == digest(code),
                OAuthCode.client_pk == client_pk,
                OAuthCode.used_at.is_(None),
                OAuthCode.expires_at > tx.now,
            )
            .values(used_at=tx.now)
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return None
        return await tx.session.scalar(select(OAuthCode).where(OAuthCode.code_hash == digest(code)))


async def replayed(db: Database, code: str, client_pk: uuid.UUID) -> int:
    """A code that was already used came back: revoke the tokens it was exchanged for
    (their family is the code's id); how many were live."""
    async with db.write(SERVER) as tx:
        row = await tx.session.scalar(
            select(OAuthCode).where(
                OAuthCode.code_hash == digest(code),
                OAuthCode.client_pk == client_pk,
                OAuthCode.used_at.is_not(None),
            )
        )
        if row is None:
            return 0
        return await revoke_family(tx, row.id, "authorization_code_reused")


async def nonce_used(db: Database, client_pk: uuid.UUID, nonce: str) -> bool:
    """Whether a code was already issued to this client with this nonce (a replayed
    authorization request)."""
    async with db.read(SERVER) as tx:
        found = await tx.session.scalar(
            select(OAuthCode.id)
            .where(OAuthCode.client_pk == client_pk, OAuthCode.nonce == nonce)
            .limit(1)
        )
        return found is not None


async def consented(db: Database, user_id: uuid.UUID, client_pk: uuid.UUID) -> set[str]:
    """The scopes this user already granted this client (empty when none)."""
    async with db.read(SERVER) as tx:
        row = await tx.session.scalar(
            select(OAuthConsent).where(
                OAuthConsent.user_id == user_id, OAuthConsent.client_pk == client_pk
            )
        )
        return set(row.scopes) if row is not None else set()


async def remember_consent(
    db: Database, user_id: uuid.UUID, client_pk: uuid.UUID, scopes: list[str]
) -> None:
    """Add ``scopes`` to what this user granted this client, in a transaction of its own."""
    async with db.write(SERVER) as tx:
        await add_consent(tx, user_id, client_pk, scopes)


async def add_consent(tx: Tx, user_id: uuid.UUID, client_pk: uuid.UUID, scopes: list[str]) -> None:
    """Add ``scopes`` to what this user granted this client, in ``tx`` (the consent page's
    approval and a device code's)."""
    row = await tx.session.scalar(
        select(OAuthConsent).where(
            OAuthConsent.user_id == user_id, OAuthConsent.client_pk == client_pk
        )
    )
    if row is None:
        tx.session.add(
            OAuthConsent(
                id=uuid.uuid4(),
                user_id=user_id,
                client_pk=client_pk,
                scopes=sorted(set(scopes)),
                granted_at=tx.now,
                updated_at=tx.now,
            )
        )
        return
    merged = sorted(set(row.scopes) | set(scopes))
    if merged != sorted(row.scopes):
        row.scopes = merged
        row.updated_at = tx.now
