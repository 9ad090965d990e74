"""Adding a model (GET/POST /console/models/new, its provider chosen, an initial price if
wanted) and editing one (/console/models/{id}/edit): every field of the model spec.

The form's text goes to the registry as typed (numbers as strings too), so the domain's
own validation decides; its errors come back beside the fields they name, the form keeps
what was typed, and nothing is saved (422, or 409 when the name is taken)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from modelyard.api.web.console.access import admin, posted, registry_of
from modelyard.api.web.console.form_errors import FormErrors, form_errors
from modelyard.api.web.console.found import found
from modelyard.api.web.console.notices import redirect
from modelyard.api.web.console.render import page
from modelyard.api.web.forms import text
from modelyard.api.web.session import SignedIn
from modelyard.errors import Conflict, ModelyardError, NotFound
from modelyard.registry.model_views import CAPABILITIES, ModelView

router = APIRouter(include_in_schema=False)

PRICE_FIELDS = (
    "input_per_mtok",
    "output_per_mtok",
    "cached_input_per_mtok",
    "cache_write_per_mtok",
    "credits_per_1k",
    "currency",
    "effective_from",
)
SPEC_FIELDS = ("provider_id", "model_id", "display_name", "context_window", "max_output_tokens")
FIELDS = {f: f for f in (*SPEC_FIELDS, "capabilities", "fallbacks")} | {
    f"price.{f}": f"price_{f}" for f in PRICE_FIELDS
}


class Typed(dict[str, Any]):
    """A form's values for its template: a field never filled in reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""


_LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


def utc_time(value: str) -> str:
    """A datetime-local field's ``2027-01-01T09:30`` read as UTC (the form says so)."""
    return f"{value}Z" if _LOCAL_TIME.match(value) else value


def price_of(form: FormData, prefix: str = "") -> dict[str, Any]:
    """The price fields filled in (blank ones left to their defaults)."""
    price: dict[str, Any] = {}
    for name in PRICE_FIELDS:
        value = text(form, prefix + name).strip()
        if value:
            price[name] = utc_time(value) if name == "effective_from" else value
    return price


def spec_of(form: FormData, model_id: str) -> dict[str, Any]:
    """The model spec the form describes (``model_id``: the edited model's, or the typed)."""
    raw: dict[str, Any] = {
        "display_name": text(form, "display_name").strip() or model_id,
        "capabilities": [c for c in form.getlist("capabilities") if isinstance(c, str)],
        "fallbacks": [ln.strip() for ln in text(form, "fallbacks").splitlines() if ln.strip()],
    }
    for name in ("context_window", "max_output_tokens"):
        raw[name] = text(form, name).strip() or None
    return raw


def values_of(form: FormData) -> dict[str, Any]:
    """What was typed, to show it again."""
    values: dict[str, Any] = {n: text(form, n) for n in (*SPEC_FIELDS, "fallbacks")}
    values["capabilities"] = [c for c in form.getlist("capabilities") if isinstance(c, str)]
    values |= {f"price_{n}": text(form, f"price_{n}") for n in PRICE_FIELDS}
    return values


def values_from(model: ModelView) -> dict[str, Any]:
    return {
        "model_id": model.model_id,
        "display_name": model.display_name,
        "context_window": model.context_window or "",
        "max_output_tokens": model.max_output_tokens or "",
        "capabilities": list(model.capabilities),
        "fallbacks": "\n".join(model.fallbacks),
    }


async def _providers(request: Request, signed: SignedIn, chosen: str) -> list[tuple[str, str]]:
    """The add form's provider choices: the system providers (and the one asked for)."""
    docs = await registry_of(request).overview.list_with_models(signed.actor())
    options = [("", "Choose a provider")]
    for p in docs:
        if p["owner_user_id"] is None or p["id"] == chosen:
            label = p["display_name"] or p["name"]
            options.append((p["id"], label if p["owner_user_id"] is None else f"{label} (user's)"))
    return options


async def _form(
    request: Request,
    signed: SignedIn,
    values: dict[str, Any],
    errors: FormErrors,
    model: ModelView | None = None,
    status: int = 200,
) -> Response:
    adding = model is None
    context: dict[str, Any] = {
        "title": "Add a model" if adding else f"Edit {model.model_id}" if model else "",
        "model": model,
        "values": Typed(values),
        "errors": errors,
        "capabilities": CAPABILITIES,
        "providers": await _providers(request, signed, str(values.get("provider_id", ""))),
        "styles": ("console-models.css",),
    }
    return page(request, signed, "model_form.html", context, status=status)


@router.get("/console/models/new")
async def new_model(request: Request) -> Response:
    signed = await admin(request)
    values = {"provider_id": request.query_params.get("provider", "")[:64], "capabilities": []}
    values["price_currency"] = "USD"
    values["capabilities"] = ["text"]
    return await _form(request, signed, values, FormErrors())


@router.post("/console/models/new")
async def add_model(request: Request) -> Response:
    signed = await admin(request)
    form = await posted(request, signed)
    model_id = text(form, "model_id").strip()
    raw = spec_of(form, model_id) | {
        "provider_id": text(form, "provider_id").strip(),
        "model_id": model_id,
    }
    price = price_of(form, "price_")
    if set(price) - {"currency"}:  # the currency alone is the form's default, not a price
        raw["price"] = price
    try:
        made = await registry_of(request).models.create(signed.actor(), raw)
    except ModelyardError as exc:
        about = "provider_id" if isinstance(exc, NotFound) else "model_id"
        status = 409 if isinstance(exc, Conflict) else 422
        errors = form_errors(exc, FIELDS, about=about)
        return await _form(request, signed, values_of(form), errors, status=status)
    return redirect(f"/console/models/{made.id}", "added")


@router.get("/console/models/{model_id}/edit")
async def edit_model(request: Request, model_id: str) -> Response:
    signed = await admin(request)
    model = await found(registry_of(request).models.get(signed.actor(), model_id))
    return await _form(request, signed, values_from(model), FormErrors(), model)


@router.post("/console/models/{model_id}/edit")
async def save_model(request: Request, model_id: str) -> Response:
    signed = await admin(request)
    form = await posted(request, signed)
    registry = registry_of(request)
    model = await found(registry.models.get(signed.actor(), model_id))
    try:
        await found(registry.models.update(signed.actor(), model.id, spec_of(form, model.model_id)))
    except ModelyardError as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        errors = form_errors(exc, FIELDS, about="display_name")
        values = values_of(form) | {"model_id": model.model_id}
        return await _form(request, signed, values, errors, model, status=status)
    return redirect(f"/console/models/{model.id}", "saved")
