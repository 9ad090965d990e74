"""GET /console/users: the users (admins only), searched by email, filtered by role and
status (active, suspended, deleted), a page at a time; /console/users/new creates one,
with an optional first password."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from modelyard.api.web.console.access import admin, posted, registry_of
from modelyard.api.web.console.form_errors import FormErrors, form_errors
from modelyard.api.web.console.inputs import offset_of, optional
from modelyard.api.web.console.notices import notice, redirect
from modelyard.api.web.console.render import page
from modelyard.api.web.forms import text
from modelyard.api.web.session import SignedIn
from modelyard.errors import ModelyardError, check
from modelyard.registry.common import PageRequest
from modelyard.registry.passwords import PasswordSet, check_policy
from modelyard.registry.users import UserCreate

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
ROLES = (("", "Any role"), ("admin", "Admin"), ("member", "Member"))
ROLE_CHOICES = (("member", "Member"), ("admin", "Admin"))
STATES = (
    ("", "Active and suspended"),
    ("active", "Active"),
    ("suspended", "Suspended"),
    ("deleted", "Deleted"),
)


@router.get("/console/users")
async def users(request: Request) -> Response:
    signed = await admin(request)
    query = request.query_params
    email = query.get("email", "").strip()[:320]
    role = query.get("role", "")
    state = query.get("status", "")
    role_filter: Literal["admin", "member"] | None = (
        "admin" if role == "admin" else "member" if role == "member" else None
    )
    status_filter: Literal["active", "suspended"] | None = (
        "active" if state == "active" else "suspended" if state == "suspended" else None
    )
    found = await registry_of(request).users.list(
        signed.actor(),
        PageRequest(limit=PAGE_SIZE, offset=offset_of(request)),
        deleted=state == "deleted",
        email=email or None,
        role=role_filter,
        status=status_filter,
    )
    filters = {"email": email, "role": role_filter or "", "status": state}
    kept = urlencode({k: v for k, v in filters.items() if v})
    context = {
        "title": "Users",
        "users": found,
        "filters": filters,
        "roles": ROLES,
        "states": STATES,
        "base": "/console/users?" + (f"{kept}&" if kept else ""),
        "notice": notice(request, {"purged": "User purged, with their keys and providers."}),
    }
    return page(request, signed, "users.html", context)


def _new_form(
    request: Request,
    signed: SignedIn,
    values: dict[str, Any],
    errors: FormErrors,
    status: int = 200,
) -> Response:
    context = {"title": "New user", "values": values, "errors": errors, "roles": ROLE_CHOICES}
    return page(request, signed, "user_new.html", context, status=status)


@router.get("/console/users/new")
async def new_user(request: Request) -> Response:
    signed = await admin(request)
    blank = {"email": "", "display_name": "", "role": "member", "rpm_limit": "", "tpm_limit": ""}
    return _new_form(request, signed, blank, FormErrors())


def _create_spec(form: FormData) -> dict[str, Any]:
    return {
        "email": text(form, "email").strip(),
        "display_name": text(form, "display_name"),
        "role": text(form, "role") or "member",
        "rpm_limit": optional(form, "rpm_limit"),
        "tpm_limit": optional(form, "tpm_limit"),
    }


@router.post("/console/users/new")
async def create_user(request: Request) -> Response:
    signed = await admin(request)
    form = await posted(request, signed)
    values = _create_spec(form)
    password = text(form, "password")
    registry = registry_of(request)
    try:
        spec = check(UserCreate, values)
        if password:  # checked before the user exists, so a refused one saves nothing
            check_policy(password, spec.email)
        user = await registry.users.create(signed.actor(), spec)
        if password:
            await registry.passwords.set(signed.actor(), user.id, PasswordSet(password=password))
    except ModelyardError as exc:
        errors = form_errors(exc, about="email" if exc.code == "EMAIL_TAKEN" else None)
        return _new_form(request, signed, values, errors, 409 if exc.status == 409 else 422)
    return redirect(f"/console/users/{user.id}", "created")
