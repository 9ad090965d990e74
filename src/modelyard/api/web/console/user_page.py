"""/console/users/{id} (admins only): a user's facts, their profile and limits form,
suspend and restore (the ``status``), delete (soft: sign-in stops, history stays) and
restore, purge (for good, after a delete), a new password, and links to their keys and
credits. Each change comes back here saying what happened; a refused one re-renders the
page with the error beside its field and nothing saved."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from modelyard.api.web.console.access import admin, posted, registry_of
from modelyard.api.web.console.form_errors import FormErrors, form_errors
from modelyard.api.web.console.found import found
from modelyard.api.web.console.inputs import optional
from modelyard.api.web.console.notices import notice, redirect
from modelyard.api.web.console.render import page
from modelyard.api.web.console.users import ROLE_CHOICES
from modelyard.api.web.forms import text
from modelyard.api.web.session import SignedIn
from modelyard.errors import ModelyardError, check
from modelyard.registry.passwords import PasswordSet
from modelyard.registry.users import UserUpdate, UserView

router = APIRouter(include_in_schema=False)

DONE = {
    "created": "User created.",
    "saved": "Changes saved.",
    "suspended": "User suspended: they are signed out and their keys stop working.",
    "active": "User restored: they can sign in and use their keys again.",
    "deleted": "User deleted: sign-in stopped and their providers were disabled.",
    "restored": "User restored from deletion.",
    "password": "Password set: the user's browser sessions ended.",
}


def _values(user: UserView) -> dict[str, Any]:
    return {
        "display_name": user.display_name,
        "role": user.role,
        "rpm_limit": user.rpm_limit,
        "tpm_limit": user.tpm_limit,
    }


async def _page(
    request: Request,
    signed: SignedIn,
    user: UserView,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    password_errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    context = {
        "title": user.email,
        "user": user,
        "values": values if values is not None else _values(user),
        "errors": errors or FormErrors(),
        "password_errors": password_errors or FormErrors(),
        "roles": ROLE_CHOICES,
        "is_self": user.id == signed.user_id,
        "notice": notice(request, DONE),
    }
    return page(request, signed, "user.html", context, status=status)


def _status(exc: ModelyardError) -> int:
    return exc.status if exc.status in (403, 404, 409) else 422


@router.get("/console/users/{user_id}")
async def user_page(request: Request, user_id: str) -> Response:
    signed = await admin(request)
    user = await found(registry_of(request).users.get(signed.actor(), user_id))
    return await _page(request, signed, user)


@router.post("/console/users/{user_id}/edit")
async def edit_user(request: Request, user_id: str) -> Response:
    signed = await admin(request)
    users = registry_of(request).users
    user = await found(users.get(signed.actor(), user_id))
    form = await posted(request, signed)
    values = {
        "display_name": text(form, "display_name"),
        "role": text(form, "role"),
        "rpm_limit": optional(form, "rpm_limit"),
        "tpm_limit": optional(form, "tpm_limit"),
    }
    try:
        await users.update(signed.actor(), user.id, check(UserUpdate, values))
    except ModelyardError as exc:
        about = "role" if exc.code == "LAST_ADMIN" else None
        errors = form_errors(exc, about=about)
        return await _page(request, signed, user, values=values, errors=errors, status=_status(exc))
    return redirect(f"/console/users/{user.id}", "saved")


async def _change(request: Request, user_id: str, what: str) -> RedirectResponse | Response:
    """One of the buttons: suspend, reactivate, delete, restore."""
    signed = await admin(request)
    users = registry_of(request).users
    user = await found(users.get(signed.actor(), user_id))
    form = await posted(request, signed)
    actor = signed.actor()
    try:
        if what == "status":
            wanted = "suspended" if text(form, "status") == "suspended" else "active"
            await users.update(actor, user.id, UserUpdate(status=wanted))
            what = wanted
        elif what == "delete":
            await users.delete(actor, user.id)
            what = "deleted"
        else:
            await users.restore(actor, user.id)
            what = "restored"
    except ModelyardError as exc:
        errors = FormErrors(general=[exc.message])
        return await _page(request, signed, user, errors=errors, status=_status(exc))
    return redirect(f"/console/users/{user.id}", what)


@router.post("/console/users/{user_id}/status")
async def set_status(request: Request, user_id: str) -> Response:
    return await _change(request, user_id, "status")


@router.post("/console/users/{user_id}/delete")
async def delete_user(request: Request, user_id: str) -> Response:
    return await _change(request, user_id, "delete")


@router.post("/console/users/{user_id}/restore")
async def restore_user(request: Request, user_id: str) -> Response:
    return await _change(request, user_id, "restore")


@router.post("/console/users/{user_id}/purge")
async def purge_user(request: Request, user_id: str) -> Response:
    signed = await admin(request)
    users = registry_of(request).users
    user = await found(users.get(signed.actor(), user_id))
    await posted(request, signed)
    try:
        await users.purge(signed.actor(), user.id)
    except ModelyardError as exc:
        errors = FormErrors(general=[exc.message])
        return await _page(request, signed, user, errors=errors, status=_status(exc))
    return redirect("/console/users", "purged")


@router.post("/console/users/{user_id}/password")
async def set_password(request: Request, user_id: str) -> Response:
    signed = await admin(request)
    user = await found(registry_of(request).users.get(signed.actor(), user_id))
    form = await posted(request, signed)
    own = user.id == signed.user_id
    raw = {"password": text(form, "password")}
    if own:  # their own: the current one too, guessed under the sign-in throttle
        raw["current_password"] = text(form, "current_password")
    try:
        spec = check(PasswordSet, raw)
        await registry_of(request).passwords.set(signed.actor(), user.id, spec)
    except ModelyardError as exc:
        fields = {"password": "password", "current_password": "current_password"}
        about = "current_password" if exc.code == "WRONG_PASSWORD" else "password"
        errors = form_errors(exc, fields, about=about)
        return await _page(request, signed, user, password_errors=errors, status=_status(exc))
    if own:  # every session of theirs ended with it, this one too
        return RedirectResponse(f"/login?next=%2Fconsole%2Fusers%2F{user.id}", status_code=303)
    return redirect(f"/console/users/{user.id}", "password")
