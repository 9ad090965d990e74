"""Signing in through an upstream OpenID provider: who a verified ID token is here.

A person the provider vouches for is found by their identity there (``user_identities``:
issuer and subject); else, when the provider says their email is verified, by that email, and
the identity is linked to the account (audited ``user_identity.link``); else, when the server
allows it, a member is created with that email (audited ``user.create`` and
``user_identity.link``). Suspended and deleted users are refused like at the password form.
Everything happens in one transaction, which also opens the browser session: a refusal
changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import select

from modelyard.db.auth_tables import UserIdentity
from modelyard.db.tables import User
from modelyard.errors import Forbidden
from modelyard.registry.actors import LABEL_MAX, Actor
from modelyard.registry.sign_in import Where
from modelyard.registry.tx import Database, Tx
from modelyard.registry.users import UserCreate, create_user
from modelyard.registry.web_sessions import SessionInfo, open_session

INACTIVE = "USER_INACTIVE"
UNKNOWN = "UPSTREAM_USER_UNKNOWN"
UNVERIFIED = "UPSTREAM_EMAIL_UNVERIFIED"
LINKED_ELSEWHERE = "UPSTREAM_ALREADY_LINKED"


@dataclass(frozen=True)
class UpstreamPerson:
    """What a verified ID token (and userinfo) says about the person signing in."""

    issuer: str
    subject: str
    email: str = ""
    email_verified: bool = False
    name: str = ""


def _actor(person: UpstreamPerson) -> Actor:
    """Who the audit trail names for a link or a creation: the provider's sign-in."""
    return Actor(user_id=None, role="member", label=f"oidc:{person.issuer}"[:LABEL_MAX])


def _refused(message: str, code: str) -> Forbidden:
    return Forbidden(message, code=code)


class UpstreamSignIn:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def sign_in(
        self, person: UpstreamPerson, *, create_users: bool, where: Where | None = None
    ) -> tuple[str, SessionInfo]:
        """A new browser session (its cookie token and what it is) for ``person``;
        Forbidden (with a code saying why) when they may not sign in here."""
        where = where or Where()
        async with self.db.write(_actor(person)) as tx:
            user = await self._user_of(tx, person, create_users)
            if user.deleted_at is not None or user.status != "active":
                raise _refused("this account is suspended or deleted", INACTIVE)
            via = f"oidc:{person.issuer}"[:100]
            return await open_session(
                tx, user, via=via, address=where.address[:64], user_agent=where.user_agent[:300]
            )

    async def _user_of(self, tx: Tx, person: UpstreamPerson, create_users: bool) -> User:
        identity = await tx.session.scalar(
            select(UserIdentity).where(
                UserIdentity.issuer == person.issuer, UserIdentity.subject == person.subject
            )
        )
        if identity is not None:
            user = await tx.session.get(User, identity.user_id)
            assert user is not None  # the identity's row goes with its user (cascade)
            return user
        email = person.email.strip()
        if not email or not person.email_verified:
            raise _refused(
                "the provider did not confirm an email address for this account", UNVERIFIED
            )
        user = await tx.session.scalar(select(User).where(User.email_normalized == email.lower()))
        if user is None:
            if not create_users:
                raise _refused("there is no account here for this email address", UNKNOWN)
            user = await _create(tx, person, email)
        elif await _linked_here(tx, user.id, person.issuer):
            raise _refused(
                "this account is linked to another account at the provider", LINKED_ELSEWHERE
            )
        await _link(tx, user, person, email)
        return user


async def _create(tx: Tx, person: UpstreamPerson, email: str) -> User:
    try:
        spec = UserCreate(email=email, display_name=person.name.strip()[:200], email_verified=True)
    except ValidationError:
        raise _refused("the provider's email address cannot be used here", UNVERIFIED) from None
    return await create_user(tx, spec)


async def _linked_here(tx: Tx, user_id: uuid.UUID, issuer: str) -> bool:
    found = await tx.session.scalar(
        select(UserIdentity.id).where(
            UserIdentity.user_id == user_id, UserIdentity.issuer == issuer
        )
    )
    return found is not None


async def _link(tx: Tx, user: User, person: UpstreamPerson, email: str) -> None:
    row = UserIdentity(
        id=uuid.uuid4(),
        user_id=user.id,
        issuer=person.issuer[:500],
        subject=person.subject[:255],
        email=email[:320],
        created_at=tx.now,
    )
    tx.session.add(row)
    await tx.session.flush()
    after = {"user_id": str(user.id), "issuer": row.issuer, "subject": row.subject,
             "email": row.email}  # fmt: skip
    await tx.record("user_identity.link", "user_identity", row.id, after=after)
