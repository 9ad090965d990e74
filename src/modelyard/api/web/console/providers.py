"""/console/providers: the providers a viewer may see (admins: system providers and every
user's, each marked with its owner; members: the system's, read-only, and their own), adding
one (a kind first, then that kind's form), a provider's page (facts, models, key, actions,
connection test) and its edit form.

Who may do what is the provider service's to decide: pages call it as the signed-in user. A
provider the viewer may not see, or may see but not change (a system provider, to a member),
answers 404 on every page that would change it."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from modelyard.api.web.console.access import not_found, posted, registry_of, viewer
from modelyard.api.web.console.form_errors import FormErrors
from modelyard.api.web.console.inputs import offset_of
from modelyard.api.web.console.notices import notice
from modelyard.api.web.console.provider_forms import (
    KindForm,
    Posted,
    config_json,
    form_of,
    kind_forms,
    provider_errors,
    read_provider,
)
from modelyard.api.web.console.render import page
from modelyard.api.web.session import SignedIn
from modelyard.errors import Forbidden, ModelyardError, NotFound
from modelyard.kinds.base import kinds
from modelyard.registry.common import PageRequest
from modelyard.registry.lookup import ProviderFilter
from modelyard.registry.models import ModelFilter
from modelyard.registry.provider_views import ProviderView

router = APIRouter(include_in_schema=False)
STYLES = ("console-providers.css",)

BASE = "/console/providers"
PAGE_SIZE = 50
MODELS_SHOWN = 20
OWNERS = (("all", "Everyone's"), ("system", "System"), ("mine", "Mine"))
MEMBER_OWNERS = (("all", "System and mine"), ("system", "System"), ("mine", "Mine"))
DONE = {
    "created": "The provider was added.",
    "saved": "The changes were saved.",
    "key": "The API key was replaced.",
    "key-removed": "The API key was removed.",
    "enabled": "The provider is enabled.",
    "disabled": "The provider is disabled.",
    "default": "The provider is now the default.",
    "activated": "The provider is now the active system provider (the fallback).",
    "deleted": "The provider was deleted.",
}


async def visible(request: Request, signed: SignedIn, provider_id: str) -> ProviderView:
    """The provider as the viewer sees it; 404 when they may not."""
    try:
        return await registry_of(request).providers.get(signed.actor(), provider_id)
    except (NotFound, Forbidden):
        raise not_found() from None


def manages(signed: SignedIn, provider: ProviderView) -> bool:
    return signed.role == "admin" or provider.owner_user_id == signed.user_id


async def manageable(request: Request, signed: SignedIn, provider_id: str) -> ProviderView:
    """The provider, if the viewer may change it; else 404 (as if it were not there)."""
    provider = await visible(request, signed, provider_id)
    if not manages(signed, provider):
        raise not_found()
    return provider


def kind_form_of(provider: ProviderView) -> KindForm | None:
    kind = kinds().get(provider.kind)
    return form_of(kind) if kind is not None else None


@router.get(BASE)
async def provider_list(request: Request) -> Response:
    signed = await viewer(request)
    registry = registry_of(request)
    actor = signed.actor()
    owner = request.query_params.get("owner", "all")
    owner = owner if owner in dict(OWNERS) else "all"
    kind = request.query_params.get("kind", "")
    kind = kind if kind in kinds() else ""
    filters = ProviderFilter(owner=owner, kind=kind or None)
    listed = await registry.providers.list(
        actor, PageRequest(limit=PAGE_SIZE, offset=offset_of(request)), filters
    )
    ids = [p.id for p in listed.items]
    counts = await registry.models.counts(actor, ids)
    owners = {p.owner_user_id for p in listed.items if p.owner_user_id is not None}
    emails = await registry.users.emails(actor, list(owners))
    query = f"owner={owner}&kind={kind}&"
    context = {
        "title": "Providers",
        "styles": STYLES,
        "listed": listed,
        "counts": counts,
        "emails": emails,
        "owner": owner,
        "kind": kind,
        "owners": OWNERS if signed.role == "admin" else MEMBER_OWNERS,
        "kind_options": [("", "Any kind")] + [(k, k) for k in sorted(kinds())],
        "pager_base": f"{BASE}?{query}",
        "notice": notice(request, DONE),
    }
    return page(request, signed, "providers.html", context)


@router.get(f"{BASE}/new")
async def new_provider(request: Request) -> Response:
    signed = await viewer(request)
    forms = kind_forms()
    chosen = forms.get(request.query_params.get("kind", ""))
    values = {"enabled": "on"} if chosen is not None else {}
    return _form_page(request, signed, chosen, values, FormErrors())


def _form_page(
    request: Request,
    signed: SignedIn,
    chosen: KindForm | None,
    values: dict[str, str],
    errors: FormErrors,
    status: int = 200,
) -> Response:
    context = {
        "title": f"Add a {chosen.name} provider" if chosen else "Add a provider",
        "styles": STYLES,
        "forms": kind_forms(),
        "chosen": chosen,
        "values": values,
        "errors": errors,
    }
    return page(request, signed, "provider_new.html", context, status=status)


@router.post(f"{BASE}/new")
async def create_provider(request: Request) -> Response:
    signed = await viewer(request)
    form = await posted(request, signed)
    chosen = kind_forms().get(str(form.get("kind") or ""))
    if chosen is None:
        errors = FormErrors(general=["Choose a kind of provider first."])
        return _form_page(request, signed, None, {}, errors, status=422)
    sent: Posted = read_provider(form, chosen, creating=True)
    if signed.role != "admin":
        sent.spec.pop("owner", None)
    if sent.errors:
        return _form_page(request, signed, chosen, sent.values, sent.errors, status=422)
    try:
        made = await registry_of(request).providers.create(
            signed.actor(), sent.spec | {"kind": chosen.name}
        )
    except ModelyardError as exc:
        status = 409 if exc.status == 409 else 403 if exc.status == 403 else 422
        errors = provider_errors(exc, chosen)
        return _form_page(request, signed, chosen, sent.values, errors, status=status)
    return RedirectResponse(f"{BASE}/{made.id}?done=created", status_code=303)


async def detail_context(
    request: Request, signed: SignedIn, provider: ProviderView
) -> dict[str, Any]:
    """What a provider's page shows: its facts, owner, a page of its models."""
    registry = registry_of(request)
    actor = signed.actor()
    models = await registry.models.list(
        actor,
        PageRequest(limit=MODELS_SHOWN, offset=offset_of(request)),
        ModelFilter(provider_id=provider.id),
    )
    owner = ""
    if provider.owner_user_id is not None:
        owner = (await registry.users.emails(actor, [provider.owner_user_id])).get(
            provider.owner_user_id, ""
        )
    return {
        "title": provider.display_name,
        "styles": STYLES,
        "provider": provider,
        "kind_form": kind_form_of(provider),
        "config_text": config_json(provider.config),
        "owner_email": owner,
        "models": models,
        "manages": manages(signed, provider),
        "models_base": f"{BASE}/{provider.id}?",
        "notice": notice(request, DONE),
        "errors": FormErrors(),
        "key_errors": FormErrors(),
        "probe": None,
    }


@router.get(BASE + "/{provider_id}")
async def provider_page(request: Request, provider_id: str) -> Response:
    signed = await viewer(request)
    provider = await visible(request, signed, provider_id)
    context = await detail_context(request, signed, provider)
    return page(request, signed, "provider.html", context)


def edit_values(provider: ProviderView, kind: KindForm) -> dict[str, str]:
    values = {
        name: "" if getattr(provider, name) is None else str(getattr(provider, name))
        for name in ("name", "display_name", "description", "base_url", "organization")
    }
    for name in ("timeout_ms", "max_parallel", "rpm_limit", "tpm_limit", "weight"):
        value = getattr(provider, name)
        values[name] = "" if value is None else str(value)
    values["custom_headers"] = "\n".join(f"{k}: {v}" for k, v in provider.custom_headers.items())
    if kind.json_config:
        values["config"] = config_json(provider.config)
    for setting in kind.settings:
        value = provider.config.get(setting.name)
        values[f"config.{setting.name}"] = "" if value is None else str(value)
    return values


def _edit_page(
    request: Request,
    signed: SignedIn,
    provider: ProviderView,
    kind: KindForm,
    values: dict[str, str],
    errors: FormErrors,
    status: int = 200,
) -> Response:
    context = {
        "title": f"Edit {provider.display_name}",
        "styles": STYLES,
        "provider": provider,
        "chosen": kind,
        "values": values,
        "errors": errors,
    }
    return page(request, signed, "provider_edit.html", context, status=status)


@router.get(BASE + "/{provider_id}/edit")
async def edit_provider(request: Request, provider_id: str) -> Response:
    signed = await viewer(request)
    provider = await manageable(request, signed, provider_id)
    kind = kind_form_of(provider)
    if kind is None:
        raise not_found()
    values = edit_values(provider, kind)
    return _edit_page(request, signed, provider, kind, values, FormErrors())


@router.post(BASE + "/{provider_id}/edit")
async def save_provider(request: Request, provider_id: str) -> Response:
    signed = await viewer(request)
    form = await posted(request, signed)
    provider = await manageable(request, signed, provider_id)
    kind = kind_form_of(provider)
    if kind is None:
        raise not_found()
    sent = read_provider(form, kind, creating=False)
    if sent.errors:
        return _edit_page(request, signed, provider, kind, sent.values, sent.errors, 422)
    try:
        await registry_of(request).providers.update(signed.actor(), provider.id, sent.spec)
    except (NotFound, Forbidden):
        raise not_found() from None
    except ModelyardError as exc:
        status = 409 if exc.status == 409 else 422
        errors = provider_errors(exc, kind)
        return _edit_page(request, signed, provider, kind, sent.values, errors, status)
    return RedirectResponse(f"{BASE}/{provider.id}?done=saved", status_code=303)


def provider_url(provider_id: uuid.UUID, done: str) -> RedirectResponse:
    return RedirectResponse(f"{BASE}/{provider_id}?done={done}", status_code=303)
