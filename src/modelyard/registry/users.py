"""Users: admins and members, soft delete, purge with cascade."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator
from sqlalchemy import delete, func, select

from modelyard.db import rollup
from modelyard.db.auth_tables import WebSession
from modelyard.db.tables import Provider, User
from modelyard.errors import Conflict, Forbidden
from modelyard.registry.actors import Actor
from modelyard.registry.common import Page, PageRequest, Spec, View, not_found, parse_id
from modelyard.registry.fields import PositiveInt32
from modelyard.registry.provider_changes import apply_change
from modelyard.registry.tx import Database, Tx

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Role = Literal["admin", "member"]
Status = Literal["active", "suspended"]


class UserView(View):
    id: uuid.UUID
    email: str
    display_name: str
    role: str
    status: str
    email_verified: bool
    rpm_limit: int | None
    tpm_limit: int | None
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime


def _email(value: str) -> str:
    if not EMAIL.match(value) or len(value) > 320:
        raise ValueError("is not an email address")
    return value


class UserCreate(Spec):
    email: str
    display_name: str = Field(default="", max_length=200)
    role: Role = "member"
    email_verified: bool = False
    rpm_limit: PositiveInt32 | None = Field(default=None, description="requests per minute")
    tpm_limit: PositiveInt32 | None = Field(default=None, description="tokens per minute")

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        return _email(value)


class UserUpdate(Spec):
    email: str | None = None
    display_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    status: Status | None = None
    email_verified: bool | None = None
    rpm_limit: PositiveInt32 | None = None
    tpm_limit: PositiveInt32 | None = None

    not_null = frozenset({"email", "display_name", "role", "status", "email_verified"})

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        return None if value is None else _email(value)


def snapshot(user: User) -> dict[str, object]:
    return UserView.model_validate(user).model_dump(mode="json")


class Users:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(
        self, actor: Actor, page: PageRequest, *, deleted: bool = False
    ) -> Page[UserView]:
        actor.require_admin("list users")
        async with self.db.read(actor) as tx:
            query = select(User).where(
                User.deleted_at.is_not(None) if deleted else User.deleted_at.is_(None)
            )
            total = await tx.session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await tx.session.scalars(
                query.order_by(User.created_at, User.id).limit(page.limit).offset(page.offset)
            )
            items = [UserView.model_validate(u) for u in rows]
        return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)

    async def get(self, actor: Actor, user_id: uuid.UUID | str) -> UserView:
        uid = parse_id(user_id, "user")
        if not actor.is_admin and uid != actor.user_id:
            raise not_found("user", uid)
        async with self.db.read(actor) as tx:
            return UserView.model_validate(await _load(tx, uid))

    async def find_by_email(self, actor: Actor, email: str) -> UserView | None:
        """The user with this email (compared as sign-in does: trimmed, case folded), purged
        users never; a member finds only themselves. None when there is none."""
        normalized = email.strip().lower()
        async with self.db.read(actor) as tx:
            user = await tx.session.scalar(select(User).where(User.email_normalized == normalized))
        if user is None or (not actor.is_admin and user.id != actor.user_id):
            return None
        return UserView.model_validate(user)

    async def create(self, actor: Actor, spec: UserCreate) -> UserView:
        actor.require_admin("create users")
        async with self.db.write(actor) as tx:
            user = await create_user(tx, spec)
            return UserView.model_validate(user)

    async def update(self, actor: Actor, user_id: uuid.UUID | str, spec: UserUpdate) -> UserView:
        uid = parse_id(user_id, "user")
        changes = spec.model_dump(exclude_unset=True)
        if not actor.is_admin:
            if uid != actor.user_id:
                raise not_found("user", uid)
            if set(changes) - {"display_name"}:
                raise Forbidden("members may change only their own display_name")
        async with self.db.write(actor) as tx:
            user = await _load(tx, uid)
            before = snapshot(user)
            if "email" in changes:
                await _email_free(tx, changes["email"], user.id)
                user.email_normalized = changes["email"].lower()
            if changes.get("role") == "member" or changes.get("status") == "suspended":
                await _not_last_admin(tx, user)
            for field, value in changes.items():
                setattr(user, field, value)
            if changes.get("status") == "suspended":  # signed out everywhere, for good
                await end_web_sessions(tx, user.id)
            user.updated_at = tx.now
            await tx.session.flush()
            await tx.record("user.update", "user", user.id, before=before, after=snapshot(user))
            return UserView.model_validate(user)

    async def delete(self, actor: Actor, user_id: uuid.UUID | str) -> UserView:
        """Soft delete: sign-in stops, their providers are disabled, history stays."""
        actor.require_admin("delete users")
        uid = parse_id(user_id, "user")
        async with self.db.write(actor) as tx:
            user = await _load(tx, uid)
            if user.deleted_at is not None:
                raise Conflict(f"user {uid} is already deleted", code="USER_DELETED")
            await _not_last_admin(tx, user)
            before = snapshot(user)
            user.deleted_at = tx.now
            user.updated_at = tx.now
            await end_web_sessions(tx, uid)
            owned = (
                await tx.session.scalars(
                    select(Provider)
                    .where(Provider.owner_user_id == uid, Provider.enabled)
                    .order_by(Provider.name, Provider.id)
                )
            ).all()
            await tx.record(
                "user.delete",
                "user",
                uid,
                before=before,
                after=snapshot(user) | {"disabled_providers": [str(p.id) for p in owned]},
            )
            for provider in owned:  # each disabled provider gets its own event
                changes = {"enabled": False, "is_default": False}
                await apply_change(tx, provider, "provider.disable", changes)
            return UserView.model_validate(user)

    async def restore(self, actor: Actor, user_id: uuid.UUID | str) -> UserView:
        actor.require_admin("restore users")
        uid = parse_id(user_id, "user")
        async with self.db.write(actor) as tx:
            user = await _load(tx, uid)
            if user.deleted_at is None:
                raise Conflict(f"user {uid} is not deleted", code="USER_NOT_DELETED")
            before = snapshot(user)
            user.deleted_at = None
            user.updated_at = tx.now
            await tx.record("user.restore", "user", uid, before=before, after=snapshot(user))
            return UserView.model_validate(user)

    async def purge(self, actor: Actor, user_id: uuid.UUID | str) -> None:
        """Hard delete; their providers, models, preferences and keys go with them."""
        actor.require_admin("purge users")
        uid = parse_id(user_id, "user")
        if uid == actor.user_id:
            raise Conflict("you cannot purge yourself", code="SELF_PURGE")
        async with self.db.write(actor) as tx:
            user = await _load(tx, uid)
            await _not_last_admin(tx, user)
            before = snapshot(user)
            await tx.session.delete(user)
            await tx.session.flush()  # their calls lose their user (ON DELETE SET NULL)...
            await rollup.fold_user(await tx.session.connection(), uid)  # ...their roll-ups too
            await tx.record("user.purge", "user", uid, before=before)


async def create_user(tx: Tx, spec: UserCreate) -> User:
    await _email_free(tx, spec.email, None)
    user = User(
        id=uuid.uuid4(),
        email=spec.email,
        email_normalized=spec.email.lower(),
        display_name=spec.display_name,
        role=spec.role,
        status="active",
        email_verified=spec.email_verified,
        rpm_limit=spec.rpm_limit,
        tpm_limit=spec.tpm_limit,
        created_at=tx.now,
        updated_at=tx.now,
    )
    tx.session.add(user)
    await tx.session.flush()
    await tx.record("user.create", "user", user.id, after=snapshot(user))
    return user


async def end_web_sessions(tx: Tx, user_id: uuid.UUID) -> None:
    """The user's browser sessions end (suspended, deleted, new password): restoring the
    user later does not bring them back."""
    await tx.session.execute(delete(WebSession).where(WebSession.user_id == user_id))


async def _load(tx: Tx, uid: uuid.UUID) -> User:
    user = await tx.session.get(User, uid)
    if user is None:
        raise not_found("user", uid)
    return user


async def _email_free(tx: Tx, email: str, own_id: uuid.UUID | None) -> None:
    found = await tx.session.scalar(select(User.id).where(User.email_normalized == email.lower()))
    if found is not None and found != own_id:
        raise Conflict(f"email {email!r} is already registered", code="EMAIL_TAKEN")


async def _not_last_admin(tx: Tx, user: User) -> None:
    if user.role != "admin" or user.deleted_at is not None:
        return
    others = await tx.session.scalar(
        select(func.count())
        .select_from(User)
        .where(
            User.role == "admin",
            User.status == "active",
            User.deleted_at.is_(None),
            User.id != user.id,
        )
    )
    if not others:
        raise Conflict("this is the last active admin; make another admin first", code="LAST_ADMIN")
