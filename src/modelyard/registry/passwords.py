"""Users' passwords: argon2id through argon2-cffi, a policy, and who may set one.

Only the argon2 hash is stored (``users.password_hash``); it names its own parameters, so
a hash made with older parameters still verifies and is rehashed at the next sign-in.
Hashing costs tens of milliseconds of CPU by design, so it runs in a worker thread, never on
the event loop. Setting a password ends the user's browser sessions and is audited as
``user.password_set`` without the password or its hash.
"""

from __future__ import annotations

import uuid

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import Field

from modelyard.db.tables import User
from modelyard.errors import Forbidden, ValidationFailed
from modelyard.registry import login_throttle
from modelyard.registry.actors import Actor
from modelyard.registry.common import Spec, not_found, parse_id
from modelyard.registry.fields import unstorable
from modelyard.registry.tx import Database, Tx
from modelyard.registry.users import end_web_sessions

MIN_LENGTH = 12
MAX_LENGTH = 1000
HASHER = PasswordHasher()  # argon2id with argon2-cffi's current recommended parameters
# Verified when an email matches no user with a password, so such a sign-in costs the same
# time as a real one (nobody learns which emails exist by timing the answer).
_DECOY = HASHER.hash("modelyard decoy password, never a user's")


class PasswordSet(Spec):
    password: str = Field(min_length=1, max_length=MAX_LENGTH, description="the new password")
    current_password: str | None = Field(
        default=None,
        max_length=MAX_LENGTH,
        description="required when you change your own password and one is set",
    )


def check_policy(password: str, email: str) -> None:
    """12 to 1000 characters, not the account's email. Nothing about character classes:
    length is what makes a password hard to guess (NIST SP 800-63B)."""
    if len(password) < MIN_LENGTH:
        raise ValidationFailed.at("password", f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValidationFailed.at("password", f"must be at most {MAX_LENGTH} characters")
    problem = unstorable(password)
    if problem:  # no form could send it back at sign-in
        raise ValidationFailed.at("password", problem)
    if password.strip().lower() == email.strip().lower():
        raise ValidationFailed.at("password", "must not be the account's email address")


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(HASHER.hash, password)


def _verify_sync(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _DECOY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with no stored hash, a decoy is verified
    (same cost) and the answer is False."""
    return await anyio.to_thread.run_sync(_verify_sync, stored, password)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with other parameters than today's."""
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


class Passwords:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def set(self, actor: Actor, user_id: uuid.UUID | str, spec: PasswordSet) -> None:
        """Admins (and the operator) set anyone's password; a user sets their own, giving
        the current one when they have one. Every browser session of the user ends."""
        uid = parse_id(user_id, "user")
        if actor.delegated:  # a password opens a browser session: every scope, no app
            raise Forbidden(
                "an app's access token cannot set passwords; sign in or use an API key",
                code="PERSON_ONLY",
            )
        own = uid == actor.user_id
        if not own and not actor.is_admin:
            raise not_found("user", uid)
        async with self.db.read(actor) as tx:
            user = await tx.session.get(User, uid)
            if user is None or user.deleted_at is not None:
                raise not_found("user", uid)
            email, stored = user.email, user.password_hash
        check_policy(spec.password, email)
        if own and stored is not None:
            if spec.current_password is None:
                raise ValidationFailed.at("current_password", "is required to change yours")
            await self._check_current(actor, uid, email, stored, spec.current_password)
        new_hash = await hash_password(spec.password)
        async with self.db.write(actor) as tx:
            user = await tx.session.get(User, uid)
            if user is None or user.deleted_at is not None:
                raise not_found("user", uid)
            if user.password_hash != stored:  # changed meanwhile: check again from the top
                raise Forbidden("the password changed meanwhile; try again", code="WRONG_PASSWORD")
            await store_hash(tx, user, new_hash)
            await tx.record(
                "user.password_set",
                "user",
                uid,
                before={"had_password": stored is not None},
                after={"had_password": True, "by": "self" if own else "admin"},
            )

    async def _check_current(
        self, actor: Actor, uid: uuid.UUID, email: str, stored: str, given: str
    ) -> None:
        """The current password, guessed under the sign-in throttle: a key or token that
        may change the password must not become an unthrottled way to guess it. Counted
        against the account like a sign-in (and per user, not per address)."""
        account = email.strip().lower()
        async with self.db.write(actor) as tx:
            await login_throttle.admit(tx, account, f"password-change:{uid}")
        if not await verify_password(stored, given):
            raise Forbidden("the current password is wrong", code="WRONG_PASSWORD")
        async with self.db.write(actor) as tx:
            await login_throttle.forgive(tx, account)


async def store_hash(tx: Tx, user: User, new_hash: str) -> None:
    """A new password: stored, dated, and every browser session of the user ended."""
    user.password_hash = new_hash
    user.password_changed_at = tx.now
    user.updated_at = tx.now
    await end_web_sessions(tx, user.id)
