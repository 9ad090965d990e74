"""/api/v1/users: users (admins manage them), and each user's own preferences."""

from __future__ import annotations

from fastapi import APIRouter, Response

from modelyard.api.deps import Paging, ProfileReader, Reader, RegistryDep, Writer
from modelyard.errors import Unauthenticated
from modelyard.registry.common import Page
from modelyard.registry.passwords import PasswordSet
from modelyard.registry.preferences import PreferencesUpdate, PreferencesView
from modelyard.registry.users import UserCreate, UserUpdate, UserView

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", summary="List users (admins); ?deleted=true lists soft-deleted ones")
async def list_users(
    registry: RegistryDep, actor: Reader, page: Paging, deleted: bool = False
) -> Page[UserView]:
    return await registry.users.list(actor, page, deleted=deleted)


@router.post("", status_code=201, summary="Create a user (admins)")
async def create_user(registry: RegistryDep, actor: Writer, body: UserCreate) -> UserView:
    return await registry.users.create(actor, body)


# /users/me... before /users/{user_id}, or "me" would be taken for an id.
@router.get("/me", summary="The user behind this API key or token")
async def me(registry: RegistryDep, actor: ProfileReader) -> UserView:
    if actor.user_id is None:  # API keys always belong to a user; only the CLI has none
        raise Unauthenticated("this endpoint needs a user's API key")
    return await registry.users.get(actor, actor.user_id)


@router.get("/me/preferences", summary="Your preferences")
async def get_preferences(registry: RegistryDep, actor: Reader) -> PreferencesView:
    return await registry.preferences.get(actor)


@router.put("/me/preferences", summary="Change your preferences (only the fields given)")
async def update_preferences(
    registry: RegistryDep, actor: Writer, body: PreferencesUpdate
) -> PreferencesView:
    return await registry.preferences.update(actor, body)


@router.get("/{user_id}", summary="One user (members: only themselves)")
async def get_user(registry: RegistryDep, actor: Reader, user_id: str) -> UserView:
    return await registry.users.get(actor, user_id)


@router.patch("/{user_id}", summary="Change a user (members: only their display_name)")
async def update_user(
    registry: RegistryDep, actor: Writer, user_id: str, body: UserUpdate
) -> UserView:
    return await registry.users.update(actor, user_id, body)


@router.delete("/{user_id}", summary="Soft-delete a user: keys stop working, providers disabled")
async def delete_user(registry: RegistryDep, actor: Writer, user_id: str) -> UserView:
    return await registry.users.delete(actor, user_id)


@router.put(
    "/{user_id}/password",
    status_code=204,
    summary="Set a user's password (admins: anyone's; members: their own, with the current one)",
)
async def set_password(
    registry: RegistryDep, actor: Writer, user_id: str, body: PasswordSet
) -> Response:
    await registry.passwords.set(actor, user_id, body)
    return Response(status_code=204)


@router.post("/{user_id}/restore", summary="Undo a soft delete")
async def restore_user(registry: RegistryDep, actor: Writer, user_id: str) -> UserView:
    return await registry.users.restore(actor, user_id)


@router.delete("/{user_id}/purge", status_code=204, summary="Hard-delete a user with their data")
async def purge_user(registry: RegistryDep, actor: Writer, user_id: str) -> Response:
    await registry.users.purge(actor, user_id)
    return Response(status_code=204)
