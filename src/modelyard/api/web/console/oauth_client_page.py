"""/console/oauth-clients/{client_id} (admins only): a client's facts and its edit form,
disable and enable, a new secret for a confidential client (shown once; the old one stops
at once), and delete, each asked first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from modelyard.api.web.console.access import admin, posted, registry_of
from modelyard.api.web.console.form_errors import FormErrors
from modelyard.api.web.console.found import found
from modelyard.api.web.console.inputs import lines
from modelyard.api.web.console.notices import notice, redirect
from modelyard.api.web.console.oauth_clients import (
    choices,
    merge,
    read_client_form,
    service_user_id,
)
from modelyard.api.web.console.render import page
from modelyard.api.web.forms import text
from modelyard.api.web.session import SignedIn
from modelyard.errors import ModelyardError, NotFound, check
from modelyard.registry.oauth_clients import OAuthClientUpdate, OAuthClientView

router = APIRouter(include_in_schema=False)

DONE = {
    "created": "OAuth client created.",
    "saved": "Changes saved.",
    "disabled": "OAuth client disabled: it can no longer sign anyone in.",
    "enabled": "OAuth client enabled.",
}
EDITABLE = ("name", "description", "redirect_uris", "grant_types", "scopes", "skip_consent")


async def _values(request: Request, signed: SignedIn, client: OAuthClientView) -> dict[str, Any]:
    email = ""
    if client.service_user_id is not None:
        try:
            user = await registry_of(request).users.get(signed.actor(), client.service_user_id)
            email = user.email
        except NotFound:
            email = ""
    values = client.model_dump()
    values |= {"redirect_uris": "\n".join(client.redirect_uris), "service_user": email}
    return values


async def _page(
    request: Request,
    signed: SignedIn,
    client: OAuthClientView,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    context = {
        "title": client.name,
        "client": client,
        "values": values if values is not None else await _values(request, signed, client),
        "errors": errors or FormErrors(),
        "notice": notice(request, DONE),
    } | choices()
    return page(request, signed, "oauth_client.html", context, status=status)


@router.get("/console/oauth-clients/{client_id}")
async def client_page(request: Request, client_id: str) -> Response:
    signed = await admin(request)
    client = await found(registry_of(request).oauth_clients.get(signed.actor(), client_id))
    return await _page(request, signed, client)


@router.post("/console/oauth-clients/{client_id}/edit")
async def edit_client(request: Request, client_id: str) -> Response:
    signed = await admin(request)
    registry = registry_of(request)
    client = await found(registry.oauth_clients.get(signed.actor(), client_id))
    form = await posted(request, signed)
    values = read_client_form(form) | {"client_id": client.client_id}
    errors = FormErrors()
    user_id = await service_user_id(registry, signed, values["service_user"], errors)
    raw = {k: values[k] for k in EDITABLE}
    raw |= {"redirect_uris": lines(form, "redirect_uris"), "service_user_id": user_id}
    try:
        spec = check(OAuthClientUpdate, raw)
        if not errors:
            await registry.oauth_clients.update(signed.actor(), client.client_id, spec)
    except ModelyardError as exc:
        errors = merge(errors, exc)
    if errors:
        return await _page(request, signed, client, values=values, errors=errors, status=422)
    return redirect(f"/console/oauth-clients/{client.client_id}", "saved")


@router.post("/console/oauth-clients/{client_id}/enabled")
async def set_enabled(request: Request, client_id: str) -> Response:
    signed = await admin(request)
    clients = registry_of(request).oauth_clients
    client = await found(clients.get(signed.actor(), client_id))
    form = await posted(request, signed)
    enabled = text(form, "enabled") == "on"
    await clients.update(signed.actor(), client.client_id, OAuthClientUpdate(enabled=enabled))
    return redirect(
        f"/console/oauth-clients/{client.client_id}", "enabled" if enabled else "disabled"
    )


@router.post("/console/oauth-clients/{client_id}/rotate")
async def rotate(request: Request, client_id: str) -> Response:
    signed = await admin(request)
    clients = registry_of(request).oauth_clients
    client = await found(clients.get(signed.actor(), client_id))
    await posted(request, signed)
    try:
        made = await clients.rotate_secret(signed.actor(), client.client_id)
    except ModelyardError as exc:
        errors = FormErrors(general=[exc.message])
        return await _page(request, signed, client, errors=errors, status=409)
    context = {"title": "New client secret", "made": made, "rotated": True}
    return page(request, signed, "oauth_client_secret.html", context)


@router.post("/console/oauth-clients/{client_id}/delete")
async def delete(request: Request, client_id: str) -> Response:
    signed = await admin(request)
    clients = registry_of(request).oauth_clients
    client = await found(clients.get(signed.actor(), client_id))
    await posted(request, signed)
    await found(clients.delete(signed.actor(), client.client_id))
    return redirect("/console/oauth-clients", "deleted")
