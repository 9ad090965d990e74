"""GET /console/oauth-clients (admins only): the applications that sign users in; and
/console/oauth-clients/new to register one. A confidential client's secret is shown once,
on the answer to the form (never in a URL, never again); a public one has none."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from modelyard.api.web.console.access import admin, posted, registry_of
from modelyard.api.web.console.form_errors import FormErrors, form_errors
from modelyard.api.web.console.inputs import lines
from modelyard.api.web.console.notices import notice, redirect
from modelyard.api.web.console.render import page
from modelyard.api.web.forms import text
from modelyard.api.web.session import SignedIn
from modelyard.errors import ModelyardError, NotFound, check
from modelyard.registry import scopes as vocabulary
from modelyard.registry.oauth_client_rules import GRANT_TYPES
from modelyard.registry.oauth_clients import OAuthClientCreate
from modelyard.services import Registry

router = APIRouter(include_in_schema=False)

TYPES = (
    ("confidential", "Confidential: a server that keeps a secret"),
    ("public", "Public: a desktop, mobile or browser app (PKCE, no secret)"),
)
GRANTS = tuple((g, g.rsplit(":", 1)[-1]) for g in GRANT_TYPES)
ALL_SCOPES = (*vocabulary.SCOPES, *vocabulary.OIDC_SCOPES)
SCOPES = tuple((s, vocabulary.DESCRIPTIONS[s]) for s in ALL_SCOPES)
# Where each error path of a client's spec is shown in the form.
FIELDS = {
    "client_id": "client_id",
    "name": "name",
    "description": "description",
    "client_type": "client_type",
    "redirect_uris": "redirect_uris",
    "grant_types": "grant_types",
    "scopes": "scopes",
    "service_user_id": "service_user",
    "skip_consent": "skip_consent",
    "enabled": "enabled",
}
DONE = {"deleted": "OAuth client deleted, with its tokens and consents."}


def choices() -> dict[str, Any]:
    return {"types": TYPES, "grants": GRANTS, "scope_choices": SCOPES}


def read_client_form(form: FormData) -> dict[str, Any]:
    """What the create and edit forms send, as the form shows it again."""
    return {
        "client_id": text(form, "client_id").strip(),
        "name": text(form, "name"),
        "description": text(form, "description"),
        "client_type": text(form, "client_type"),
        "redirect_uris": "\n".join(lines(form, "redirect_uris")),
        "grant_types": [g for g in form.getlist("grant") if isinstance(g, str)][:10],
        "scopes": [s for s in form.getlist("scope") if isinstance(s, str)][:20],
        "service_user": text(form, "service_user").strip(),
        "skip_consent": text(form, "skip_consent") == "on",
        "enabled": text(form, "enabled") == "on",
    }


async def service_user_id(
    registry: Registry, signed: SignedIn, email: str, errors: FormErrors
) -> str | None:
    """The id of the service user named by ``email`` (None when empty or unknown: an
    unknown one is an error beside its field)."""
    if not email:
        return None
    try:
        return str((await registry.users.by_email(signed.actor(), email)).id)
    except NotFound:
        errors.add("service_user", "is not a user's email")
        return None


def merge(errors: FormErrors, exc: ModelyardError) -> FormErrors:
    """``errors`` found in the form so far, and the service's."""
    about = "client_id" if exc.code == "CLIENT_ID_TAKEN" else None
    found = form_errors(exc, FIELDS, about=about)
    for name, message in found.fields.items():
        errors.add(name, message)
    errors.general.extend(found.general)
    return errors


@router.get("/console/oauth-clients")
async def clients(request: Request) -> Response:
    signed = await admin(request)
    found = await registry_of(request).oauth_clients.list(signed.actor())
    context = {"title": "OAuth clients", "clients": found, "notice": notice(request, DONE)}
    return page(request, signed, "oauth_clients.html", context)


def _form(
    request: Request, signed: SignedIn, values: dict[str, Any], errors: FormErrors, status: int
) -> Response:
    context = {"title": "New OAuth client", "values": values, "errors": errors} | choices()
    return page(request, signed, "oauth_client_new.html", context, status=status)


@router.get("/console/oauth-clients/new")
async def new_client(request: Request) -> Response:
    signed = await admin(request)
    values = {
        "client_id": "",
        "name": "",
        "description": "",
        "client_type": "confidential",
        "redirect_uris": "",
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "email", "profile", "llm.inference", "models.read"],
        "service_user": "",
        "skip_consent": False,
        "enabled": True,
    }
    return _form(request, signed, values, FormErrors(), 200)


@router.post("/console/oauth-clients/new")
async def create_client(request: Request) -> Response:
    signed = await admin(request)
    form = await posted(request, signed)
    values = read_client_form(form)
    registry = registry_of(request)
    errors = FormErrors()
    user_id = await service_user_id(registry, signed, values["service_user"], errors)
    raw = {k: v for k, v in values.items() if k != "service_user"}
    raw |= {"redirect_uris": lines(form, "redirect_uris"), "service_user_id": user_id}
    try:
        spec = check(OAuthClientCreate, raw)
        if errors:
            return _form(request, signed, values, errors, 422)
        made = await registry.oauth_clients.create(signed.actor(), spec)
    except ModelyardError as exc:
        return _form(request, signed, values, merge(errors, exc), 409 if exc.status == 409 else 422)
    if made.client_secret is None:
        return redirect(f"/console/oauth-clients/{made.client.client_id}", "created")
    context = {"title": "OAuth client created", "made": made, "rotated": False}
    return page(request, signed, "oauth_client_secret.html", context)
