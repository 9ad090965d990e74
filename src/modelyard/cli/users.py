"""``modelyard users``: admins and members; soft delete, restore, purge."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from modelyard.errors import ValidationFailed
from modelyard.registry.common import PageRequest
from modelyard.registry.passwords import PasswordSet
from modelyard.registry.users import UserCreate, UserUpdate, UserView
from modelyard.services import Registry

from ._common import ACTOR, JsonFlag, YesFlag, emit, fields, note, run, table
from ._refs import user_id
from ._tables import Col, WideFlag

app = typer.Typer(help="Users: add, change roles, suspend, delete, restore, purge.")

Ref = Annotated[str, typer.Argument(help="User id or email.", show_default=False)]
Role = Annotated[str | None, typer.Option(help="admin or member.")]


def _show(user: UserView, as_json: bool) -> None:
    emit(user, as_json, lambda: fields(user, title=f"user {user.email}"))


def _act(
    ref: str, as_json: bool, operation: Callable[[Registry, uuid.UUID], Awaitable[UserView]]
) -> None:
    async def work(registry: Registry) -> UserView:
        return await operation(registry, await user_id(registry, ref))

    _show(run(work), as_json)


@app.command("list")
def list_(
    deleted: Annotated[bool, typer.Option("--deleted", help="List deleted users.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """List users."""
    page = run(
        lambda r: r.users.list(ACTOR, PageRequest(limit=limit, offset=offset), deleted=deleted)
    )
    emit(
        page,
        as_json,
        lambda: table(
            (
                Col("email", fold=True),
                Col("name", drop=3, fold=True),
                "role",
                "status",
                Col("verified", drop=4),
                Col("deleted", drop=5),
                Col("id", drop=2),
            ),
            (
                (u.email, u.display_name, u.role, u.status, u.email_verified, u.deleted_at, u.id)
                for u in page.items
            ),
            wide=wide,
        ),
    )


@app.command()
def add(
    email: Annotated[str, typer.Option(help="Email address (unique).")],
    display_name: Annotated[str, typer.Option(help="Name shown in the UI.")] = "",
    role: Annotated[str, typer.Option(help="admin or member.")] = "member",
    verified: Annotated[bool, typer.Option("--verified", help="Email is verified.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a user."""
    spec = UserCreate.model_validate(
        {"email": email, "display_name": display_name, "role": role, "email_verified": verified}
    )
    _show(run(lambda r: r.users.create(ACTOR, spec)), as_json)


@app.command()
def update(
    user: Ref,
    email: Annotated[str | None, typer.Option(help="New email address.")] = None,
    display_name: Annotated[str | None, typer.Option(help="New display name.")] = None,
    role: Role = None,
    status: Annotated[str | None, typer.Option(help="active or suspended.")] = None,
    verified: Annotated[
        bool | None, typer.Option("--verified/--unverified", help="Email verified or not.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a user's email, name, role or status."""
    given = {
        "email": email,
        "display_name": display_name,
        "role": role,
        "status": status,
        "email_verified": verified,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        raise ValidationFailed("nothing to change; give at least one option (see --help)")
    spec = UserUpdate.model_validate(changes)
    _act(user, as_json, lambda r, uid: r.users.update(ACTOR, uid, spec))


@app.command()
def delete(user: Ref, as_json: JsonFlag = False) -> None:
    """Soft-delete a user: sign-in stops, their providers are disabled, history stays."""
    _act(user, as_json, lambda r, uid: r.users.delete(ACTOR, uid))


@app.command()
def restore(user: Ref, as_json: JsonFlag = False) -> None:
    """Undo a soft delete."""
    _act(user, as_json, lambda r, uid: r.users.restore(ACTOR, uid))


@app.command()
def purge(user: Ref, yes: YesFlag = False, as_json: JsonFlag = False) -> None:
    """Delete a user for good, with their providers, models, preferences and keys."""
    if not yes:
        typer.confirm(
            f"Purge user {user} and everything they own? This cannot be undone.", abort=True
        )

    async def work(r: Registry) -> str:
        uid = await user_id(r, user)
        await r.users.purge(ACTOR, uid)
        return str(uid)

    purged = run(work)
    emit({"purged": purged}, as_json, lambda: note(f"Purged user {user}."))


@app.command("set-password")
def set_password(
    user: Ref,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the password from stdin (one line) instead of asking."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Set a user's password (12 to 1000 characters, not their email); their browser
    sessions end. Without --password-stdin it is asked for twice, hidden."""
    if password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    spec = PasswordSet(password=password)

    async def work(r: Registry) -> str:
        uid = await user_id(r, user)
        await r.passwords.set(ACTOR, uid, spec)
        return str(uid)

    done = run(work)
    emit(
        {"user_id": done, "password_set": True}, as_json, lambda: note(f"Password set for {user}.")
    )
