"""GET /console/infrastructure: seed 001's Infrastructure panel (admins only), every known
system setting (and any custom.* one stored) grouped by theme: the default model for each
purpose, retries, the deprecated-model policy, credits, limits. Each shows its help, its
value and default; POST saves one setting, POST .../reset puts it back to its default.
A value the settings service refuses comes back beside its control, nothing saved."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from modelyard.api.web.console.access import admin, posted, registry_of
from modelyard.api.web.console.notices import notice
from modelyard.api.web.console.render import page
from modelyard.api.web.console.setting_controls import (
    BadJSON,
    ModelChoices,
    controls,
    message_of,
    slug,
    value_of,
)
from modelyard.api.web.errors import PageError
from modelyard.api.web.forms import text
from modelyard.api.web.session import SignedIn
from modelyard.errors import Conflict, ModelyardError, NotFound, ValidationFailed
from modelyard.registry.system_settings import definition

router = APIRouter(include_in_schema=False)
HOME = "/console/infrastructure"


async def _model_choices(request: Request, signed: SignedIn) -> ModelChoices:
    """What a model setting may name: the ACTIVE models of enabled system providers, by
    provider (from the overview snapshot: no query per provider)."""
    docs = await registry_of(request).overview.list_with_models(signed.actor())
    groups = []
    for p in docs:
        if p["owner_user_id"] is None and p["enabled"]:
            refs = [f"{p['name']}/{m['model_id']}" for m in p["models"] if m["status"] == "ACTIVE"]
            if refs:
                groups.append((p["display_name"] or p["name"], refs))
    return ModelChoices(groups)


async def _page(
    request: Request,
    signed: SignedIn,
    *,
    failed: tuple[str, str, str] | None = None,  # key, typed text, error
    status: int = 200,
) -> Response:
    settings = await registry_of(request).settings.list(signed.actor())
    themes = controls(settings)
    if failed is not None:
        key, typed, error = failed
        for theme in themes:
            for control in theme.controls:
                if control.setting.key == key:
                    control.text, control.error = typed, error
    context: dict[str, Any] = {
        "title": "Infrastructure",
        "themes": themes,
        "models": await _model_choices(request, signed),
        "failed": failed[0] if failed else "",
        "notice": notice(request),
        "styles": ("console-models.css",),
    }
    return page(request, signed, "infrastructure.html", context, status=status)


@router.get(HOME)
async def infrastructure(request: Request) -> Response:
    signed = await admin(request)
    return await _page(request, signed)


def status_of(exc: ModelyardError) -> int:
    return 409 if isinstance(exc, Conflict) else 422


def _key(form_key: str) -> str:
    try:
        definition(form_key)
    except ValidationFailed:
        raise PageError(404, "Not found", "There is no such setting.") from None
    return form_key


@router.post(HOME)
async def save(request: Request) -> Response:
    signed = await admin(request)
    form = await posted(request, signed)
    key = _key(text(form, "key"))
    typed = text(form, "value")
    try:
        await registry_of(request).settings.set(signed.actor(), key, value_of(key, typed))
    except BadJSON as exc:
        return await _page(request, signed, failed=(key, typed, str(exc)), status=422)
    except ModelyardError as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return await _page(
            request, signed, failed=(key, typed, message_of(key, exc)), status=status
        )
    return RedirectResponse(f"{HOME}?done=setting#s-{slug(key)}", status_code=303)


@router.post(f"{HOME}/reset")
async def reset(request: Request) -> Response:
    signed = await admin(request)
    form = await posted(request, signed)
    key = _key(text(form, "key"))
    with suppress(Conflict, NotFound):  # already at its default: what was asked for
        await registry_of(request).settings.unset(signed.actor(), key)
    return RedirectResponse(f"{HOME}?done=reset#s-{slug(key)}", status_code=303)
