"""/console/keys/new: a new API key, for the viewer (an admin: for anyone, by email).
Scopes are checkboxes, offered only as far as the viewer may grant them; expiry is a UTC
day; limits are optional. The answer to the post is the one page that shows the key: in
the page, never in a URL, never again (the page is not cached)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from modelyard.api.web.console.access import posted, registry_of, viewer
from modelyard.api.web.console.form_errors import FormErrors, form_errors
from modelyard.api.web.console.found import found
from modelyard.api.web.console.inputs import optional
from modelyard.api.web.console.render import page
from modelyard.api.web.forms import text
from modelyard.api.web.session import SignedIn
from modelyard.errors import ModelyardError, NotFound, ValidationFailed, check
from modelyard.registry import scopes as vocabulary
from modelyard.registry.apikeys import ApiKeyCreate

router = APIRouter(include_in_schema=False)

FIELDS = {
    "name": "name",
    "scopes": "scopes",
    "expires_at": "expires_on",
    "rpm_limit": "rpm_limit",
    "tpm_limit": "tpm_limit",
    "user_id": "owner",
}


def grantable(signed: SignedIn) -> list[tuple[str, str]]:
    """(scope, what it allows) for each scope the viewer may put on a key."""
    held = signed.actor().scopes
    return [
        (name, vocabulary.DESCRIPTIONS[name])
        for name in vocabulary.SCOPES
        if vocabulary.grants(held, name)
    ]


def _form(
    request: Request,
    signed: SignedIn,
    values: dict[str, Any],
    errors: FormErrors,
    status: int = 200,
) -> Response:
    context = {
        "title": "New API key",
        "values": values,
        "errors": errors,
        "scopes": grantable(signed),
    }
    return page(request, signed, "key_new.html", context, status=status)


@router.get("/console/keys/new")
async def new_key(request: Request) -> Response:
    signed = await viewer(request)
    owner = ""
    user_id = request.query_params.get("user_id", "").strip()
    if user_id and signed.role == "admin":
        owner = (await found(registry_of(request).users.get(signed.actor(), user_id))).email
    values = {
        "name": "",
        "owner": owner,
        "scopes": list(vocabulary.MEMBER_DEFAULT),
        "expires_on": "",
        "rpm_limit": "",
        "tpm_limit": "",
    }
    return _form(request, signed, values, FormErrors())


def _expiry(raw: str, errors: FormErrors) -> datetime | None:
    """The start of a UTC day (``2027-01-31``), or None for no expiry (or a day that is
    not one: an error beside the field)."""
    if not raw.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(raw.strip()), time(), tzinfo=UTC)
    except ValueError:
        errors.add("expires_on", "is not a day like 2027-01-31")
        return None


def _values(form: FormData, signed: SignedIn) -> dict[str, Any]:
    return {
        "name": text(form, "name"),
        "owner": text(form, "owner").strip() if signed.role == "admin" else "",
        "scopes": [s for s in form.getlist("scope") if isinstance(s, str)][:20],
        "expires_on": text(form, "expires_on"),
        "rpm_limit": optional(form, "rpm_limit"),
        "tpm_limit": optional(form, "tpm_limit"),
    }


@router.post("/console/keys/new")
async def create_key(request: Request) -> Response:
    signed = await viewer(request)
    form = await posted(request, signed)
    values = _values(form, signed)
    registry, actor = registry_of(request), signed.actor()
    errors, owner = FormErrors(), None
    if values["owner"]:  # checked with the rest, so every problem shows at once
        try:
            owner = (await registry.users.by_email(actor, values["owner"])).id
        except NotFound:
            errors.add("owner", "is not a user's email")
    try:
        raw = {k: values[k] for k in ("name", "scopes", "rpm_limit", "tpm_limit")}
        raw |= {"user_id": owner, "expires_at": _expiry(values["expires_on"], errors)}
        spec = check(ApiKeyCreate, raw)
        if errors:
            return _form(request, signed, values, errors, 422)
        made = await registry.keys.create(actor, spec)
    except ModelyardError as exc:
        if exc.code == "USER_NOT_FOUND":
            exc = ValidationFailed.at("user_id", "is not a user who may hold keys")
        found_errors = form_errors(exc, FIELDS, about="scopes" if exc.status == 403 else None)
        for name, message in found_errors.fields.items():
            errors.add(name, message)
        errors.general.extend(found_errors.general)
        return _form(request, signed, values, errors, 422 if exc.status != 409 else 409)
    context = {
        "title": "Key created",
        "made": made,
        "own": made.api_key.user_id == signed.user_id,
        "owner": values["owner"],
    }
    return page(request, signed, "key_created.html", context)
