"""A model's own page (/console/models/{id}): its facts, its price history with what is in
force now and what is scheduled, a form to schedule a new price; deprecating (after a
confirmation page saying what uses the model), reactivating and deleting it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response

from modelyard.api.web.console.access import admin, posted, registry_of
from modelyard.api.web.console.form_errors import FormErrors, form_errors
from modelyard.api.web.console.found import found
from modelyard.api.web.console.model_forms import PRICE_FIELDS, Typed, price_of
from modelyard.api.web.console.notices import notice, redirect
from modelyard.api.web.console.render import page
from modelyard.api.web.errors import PageError
from modelyard.api.web.forms import text
from modelyard.api.web.session import SignedIn
from modelyard.errors import Conflict, ModelyardError
from modelyard.registry.model_views import ModelView, PriceView

router = APIRouter(include_in_schema=False)


def history_rows(prices: list[PriceView], now: datetime) -> list[dict[str, Any]]:
    """Oldest to newest, each marked ``past``, ``current`` (in force now) or ``scheduled``."""
    started = [p for p in prices if p.effective_from <= now]
    current = started[-1].id if started else None
    return [
        {
            "price": p,
            "state": "current"
            if p.id == current
            else "scheduled"
            if p.effective_from > now
            else "past",
        }
        for p in prices
    ]


async def _model_page(
    request: Request,
    signed: SignedIn,
    model_id: str,
    *,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    registry = registry_of(request)
    actor = signed.actor()
    model = await found(registry.models.get(actor, model_id))
    provider = await found(registry.providers.get(actor, model.provider_id))
    prices = await registry.prices.history(actor, model.id)
    context = {
        "title": model.display_name,
        "model": model,
        "provider": provider,
        "history": history_rows(prices, datetime.now(UTC)),
        "values": Typed(values or {"currency": model.price.currency if model.price else "USD"}),
        "errors": errors or FormErrors(),
        "notice": notice(request),
        "styles": ("console-models.css",),
    }
    return page(request, signed, "model.html", context, status=status)


@router.get("/console/models/{model_id}")
async def model_page(request: Request, model_id: str) -> Response:
    signed = await admin(request)
    return await _model_page(request, signed, model_id)


@router.post("/console/models/{model_id}/prices")
async def schedule_price(request: Request, model_id: str) -> Response:
    signed = await admin(request)
    form = await posted(request, signed)
    registry = registry_of(request)
    model = await found(registry.models.get(signed.actor(), model_id))
    try:
        await registry.prices.set(signed.actor(), model.id, price_of(form))
    except ModelyardError as exc:
        errors = form_errors(exc, {f: f for f in PRICE_FIELDS}, about="effective_from")
        values = {f: text(form, f) for f in PRICE_FIELDS}
        status = 409 if isinstance(exc, Conflict) else 422
        return await _model_page(
            request, signed, model_id, values=values, errors=errors, status=status
        )
    return redirect(f"/console/models/{model.id}", "price")


@router.get("/console/models/{model_id}/deprecate")
async def confirm_deprecate(request: Request, model_id: str) -> Response:
    signed = await admin(request)
    registry = registry_of(request)
    model = await found(registry.models.get(signed.actor(), model_id))
    uses = await found(registry.model_usage.of(signed.actor(), model.id))
    context = {
        "title": f"Deprecate {model.model_id}",
        "model": model,
        "uses": uses,
        "styles": ("console-models.css",),
    }
    return page(request, signed, "model_deprecate.html", context)


async def _status(
    request: Request, model_id: str, status: Literal["ACTIVE", "DEPRECATED"]
) -> ModelView:
    signed = await admin(request)
    await posted(request, signed)
    try:
        return await found(registry_of(request).models.set_status(signed.actor(), model_id, status))
    except Conflict as exc:
        raise PageError(409, "Nothing to change", exc.message) from None


@router.post("/console/models/{model_id}/deprecate")
async def deprecate(request: Request, model_id: str) -> Response:
    model = await _status(request, model_id, "DEPRECATED")
    return redirect(f"/console/models/{model.id}", "deprecated")


@router.post("/console/models/{model_id}/reactivate")
async def reactivate(request: Request, model_id: str) -> Response:
    model = await _status(request, model_id, "ACTIVE")
    return redirect(f"/console/models/{model.id}", "reactivated")


@router.post("/console/models/{model_id}/delete")
async def delete(request: Request, model_id: str) -> Response:
    signed = await admin(request)
    await posted(request, signed)
    await found(registry_of(request).models.delete(signed.actor(), model_id))
    return redirect("/console/models", "deleted")
