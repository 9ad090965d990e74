"""Signing in with an email and a password: throttled, timed alike for every email, and
answered with one message for every wrong email or password."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from modelyard.db.tables import User
from modelyard.errors import Forbidden, Unauthenticated
from modelyard.registry import login_throttle
from modelyard.registry.actors import Actor
from modelyard.registry.fields import unstorable
from modelyard.registry.passwords import MAX_LENGTH, hash_password, needs_rehash, verify_password
from modelyard.registry.tx import Database
from modelyard.registry.web_sessions import SessionInfo, WebSessions, open_session

WRONG = "wrong email or password"
_PROBE = Actor(user_id=None, role="member", label="sign-in")


@dataclass(frozen=True)
class Where:
    """Where a sign-in comes from: throttled per address, kept on the session."""

    address: str = ""
    user_agent: str = ""


class SignIn:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.sessions = WebSessions(db)

    async def with_password(
        self, email: str, password: str, where: Where = Where()
    ) -> tuple[str, SessionInfo]:
        """A new session (its cookie token and what it is) for the right email and
        password; TooManyAttempts past the throttle; Unauthenticated otherwise."""
        normalized = email.strip().lower()
        too_long = len(normalized) > 320 or len(password) > MAX_LENGTH
        if not normalized or too_long or unstorable(normalized) or unstorable(password):
            raise Unauthenticated(WRONG)
        address = where.address[:64]
        async with self.db.write(_PROBE) as tx:
            await login_throttle.admit(tx, normalized, address)
            user = await tx.session.scalar(select(User).where(User.email_normalized == normalized))
            stored = user.password_hash if user is not None else None
        if not await verify_password(stored, password) or user is None:
            raise Unauthenticated(WRONG)
        rehashed = await hash_password(password) if stored and needs_rehash(stored) else None
        async with self.db.write(_PROBE) as tx:
            await login_throttle.forgive(tx, normalized)
            fresh = await tx.session.get(User, user.id)
            if fresh is None or fresh.password_hash != stored:
                raise Unauthenticated(WRONG)  # deleted or changed while we checked
            if fresh.deleted_at is not None or fresh.status != "active":
                raise Forbidden("this account is suspended or deleted", code="USER_INACTIVE")
            if rehashed is not None:  # same password, today's parameters; not a change
                fresh.password_hash = rehashed
            return await open_session(tx, fresh, address=address, user_agent=where.user_agent[:300])
