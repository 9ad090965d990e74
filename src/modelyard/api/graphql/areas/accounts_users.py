"""Users (``me``, ``user``, ``users``; create, update, soft delete, restore, purge) and
passwords, over the users and passwords services as /api/v1/users.

Admins manage every user; a member reads and renames only themselves (anyone else is
USER_NOT_FOUND, as REST answers). A password never comes back in an answer."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from modelyard.api.graphql.context import Info
from modelyard.api.graphql.inputs import raw
from modelyard.api.graphql.pagination import Connection, from_page, window
from modelyard.errors import Unauthenticated, check
from modelyard.registry.passwords import PasswordSet
from modelyard.registry.scopes import REGISTRY_READ, REGISTRY_WRITE, USER_INFO
from modelyard.registry.users import UserCreate, UserUpdate, UserView


@strawberry.enum(description="What a user may do: admins manage everything.")
class UserRole(enum.Enum):
    ADMIN = "admin"
    MEMBER = "member"


@strawberry.enum(description="A suspended user's keys and tokens stop working.")
class UserStatus(enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@strawberry.type(description="A person (or service account) with keys, providers and credits.")
class User:
    id: strawberry.ID
    email: str
    display_name: str
    role: UserRole
    status: UserStatus
    email_verified: bool
    rpm_limit: int | None = strawberry.field(description="requests per minute")
    tpm_limit: int | None = strawberry.field(description="tokens per minute")
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: UserView) -> User:
        return cls(
            id=strawberry.ID(str(view.id)),
            email=view.email,
            display_name=view.display_name,
            role=UserRole(view.role),
            status=UserStatus(view.status),
            email_verified=view.email_verified,
            rpm_limit=view.rpm_limit,
            tpm_limit=view.tpm_limit,
            deleted_at=view.deleted_at,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


@strawberry.input(description="A new user; only email is required.")
class CreateUserInput:
    email: str
    display_name: str | None = strawberry.UNSET
    role: UserRole | None = strawberry.UNSET
    email_verified: bool | None = strawberry.UNSET
    rpm_limit: int | None = strawberry.UNSET
    tpm_limit: int | None = strawberry.UNSET


@strawberry.input(
    description="Changes to a user: only the fields given (members: only displayName)."
)
class UpdateUserInput:
    email: str | None = strawberry.UNSET
    display_name: str | None = strawberry.UNSET
    role: UserRole | None = strawberry.UNSET
    status: UserStatus | None = strawberry.UNSET
    email_verified: bool | None = strawberry.UNSET
    rpm_limit: int | None = strawberry.UNSET
    tpm_limit: int | None = strawberry.UNSET


@strawberry.input(
    description="A new password (12 to 1000 characters, not the email); currentPassword"
    " is required to change your own when one is set."
)
class SetPasswordInput:
    password: str
    current_password: str | None = strawberry.UNSET


@strawberry.type
class Query:
    @strawberry.field(description="The user behind this API key or token. Scope user.info.")
    async def me(self, info: Info) -> User:
        actor = info.context.need(USER_INFO)
        if actor.user_id is None:  # keys and tokens always belong to a user
            raise Unauthenticated("this field needs a user's API key")
        return User.of(await info.context.registry.users.get(actor, actor.user_id))

    @strawberry.field(description="One user (members: only themselves). Scope registry.read.")
    async def user(self, info: Info, id: strawberry.ID) -> User:
        actor = info.context.need(REGISTRY_READ)
        return User.of(await info.context.registry.users.get(actor, id))

    @strawberry.field(
        description="Users (admins), oldest first; deleted: true lists soft-deleted ones."
        " Scope registry.read."
    )
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        deleted: bool = False,
    ) -> Connection[User]:
        actor = info.context.need(REGISTRY_READ)
        at = window(first, after)
        page = await info.context.registry.users.list(actor, at.request(), deleted=deleted)
        return from_page(page, at, User.of)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a user (admins). Scope registry.write.")
    async def create_user(self, info: Info, input: CreateUserInput) -> User:
        actor = info.context.need(REGISTRY_WRITE)
        spec = check(UserCreate, raw(input))
        return User.of(await info.context.registry.users.create(actor, spec))

    @strawberry.mutation(
        description="Change a user (members: only their own displayName). Scope registry.write."
    )
    async def update_user(self, info: Info, id: strawberry.ID, input: UpdateUserInput) -> User:
        actor = info.context.need(REGISTRY_WRITE)
        spec = check(UserUpdate, raw(input))
        return User.of(await info.context.registry.users.update(actor, id, spec))

    @strawberry.mutation(
        description="Soft-delete a user (admins): their keys stop working, their providers are"
        " disabled; the user comes back with deletedAt set. Scope registry.write."
    )
    async def delete_user(self, info: Info, id: strawberry.ID) -> User:
        actor = info.context.need(REGISTRY_WRITE)
        return User.of(await info.context.registry.users.delete(actor, id))

    @strawberry.mutation(description="Undo a soft delete (admins). Scope registry.write.")
    async def restore_user(self, info: Info, id: strawberry.ID) -> User:
        actor = info.context.need(REGISTRY_WRITE)
        return User.of(await info.context.registry.users.restore(actor, id))

    @strawberry.mutation(
        description="Hard-delete a user with their providers, models, preferences and keys"
        " (admins); answers the purged user's id. Scope registry.write."
    )
    async def purge_user(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        actor = info.context.need(REGISTRY_WRITE)
        await info.context.registry.users.purge(actor, id)
        return id

    @strawberry.mutation(
        description="Set a user's password (admins: anyone's; members: their own, with the"
        " current one; never with an app's access token); answers the user's id."
        " Scope registry.write."
    )
    async def set_password(
        self, info: Info, user_id: strawberry.ID, input: SetPasswordInput
    ) -> strawberry.ID:
        actor = info.context.need(REGISTRY_WRITE)
        spec = check(PasswordSet, raw(input))
        await info.context.registry.passwords.set(actor, user_id, spec)
        return user_id
