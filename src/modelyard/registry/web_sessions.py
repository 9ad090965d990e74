"""Browser sessions: a random token in a cookie, its SHA-256 in ``web_sessions``.

A session is valid while it has not expired (``auth.session_ttl_s`` after sign-in, not
extended by use: a stolen cookie is good for a bounded time), its user is active and not
deleted, and their password has not changed since it began. Creating, touching and ending
sessions are not configuration changes, so they are not audited and do not bump the
registry generation.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from modelyard.db.auth_tables import WebSession
from modelyard.db.tables import User
from modelyard.registry.actors import Actor
from modelyard.registry.system_settings import setting_value
from modelyard.registry.tx import Database, Tx

SESSION_TTL = "auth.session_ttl_s"
TOUCH_GRANULARITY = timedelta(minutes=1)
_PROBE = Actor(user_id=None, role="member", label="web-session")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    """A valid session and its user, as a page needs them."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    display_name: str
    role: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime


def _info(row: WebSession, user: User) -> SessionInfo:
    return SessionInfo(
        session_id=row.id,
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_seen_at=row.last_seen_at,
    )


def usable(row: WebSession, user: User, now: datetime) -> bool:
    return (
        row.expires_at > now
        and user.deleted_at is None
        and user.status == "active"
        and (user.password_changed_at is None or user.password_changed_at <= row.created_at)
    )


async def open_session(
    tx: Tx, user: User, *, via: str = "password", address: str = "", user_agent: str = ""
) -> tuple[str, SessionInfo]:
    """A new session for ``user`` in ``tx``: the cookie's token (shown once) and the
    session. The user's expired sessions are swept on the way."""
    ttl = int(await setting_value(tx, SESSION_TTL))
    await tx.session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, WebSession.expires_at <= tx.now)
    )
    token = secrets.token_urlsafe(32)
    row = WebSession(
        id=uuid.uuid4(),
        token_hash=hash_token(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        via=via[:100],
        address=address[:64],
        user_agent=user_agent[:300],
        created_at=tx.now,
        last_seen_at=tx.now,
        expires_at=tx.now + timedelta(seconds=ttl),
    )
    tx.session.add(row)
    await tx.session.flush()
    return token, _info(row, user)


class WebSessions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def lookup(self, token: str) -> SessionInfo | None:
        """The valid session behind a cookie's token, else None; its ``last_seen_at`` is
        written at most once a minute."""
        if not token or len(token) > 200:
            return None
        async with self.db.read(_PROBE) as tx:
            found = (
                await tx.session.execute(
                    select(WebSession, User)
                    .join(User, User.id == WebSession.user_id)
                    .where(WebSession.token_hash == hash_token(token))
                )
            ).first()
            if found is None or not usable(found[0], found[1], tx.now):
                return None
            info, now = _info(found[0], found[1]), tx.now
        if now - info.last_seen_at > TOUCH_GRANULARITY:
            async with self.db.write(_PROBE) as tx:
                await tx.session.execute(
                    update(WebSession)
                    .where(WebSession.id == info.session_id)
                    .values(last_seen_at=now)
                )
        return info

    async def end(self, session_id: uuid.UUID) -> None:
        """Sign out: the session row goes; its cookie is worthless from now on."""
        async with self.db.write(_PROBE) as tx:
            await tx.session.execute(delete(WebSession).where(WebSession.id == session_id))
