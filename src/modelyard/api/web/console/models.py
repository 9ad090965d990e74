"""GET /console/models: seed 001's Models panel (admins only), every provider's models in
one table grouped by provider, filtered and paged; POST .../{id}/default makes a model the
system default from the table or the model's page. The forms (add, edit) and a model's own
page live in :mod:`.model_forms` and :mod:`.model_detail`, mounted here."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from modelyard.api.web.console import model_detail, model_forms
from modelyard.api.web.console.access import admin, posted, registry_of
from modelyard.api.web.console.found import found
from modelyard.api.web.console.models_table import SCOPES, STATUSES, Wanted, amount, table
from modelyard.api.web.console.notices import back_to, notice
from modelyard.api.web.console.render import page
from modelyard.api.web.errors import PageError
from modelyard.errors import Conflict

router = APIRouter(include_in_schema=False)
router.include_router(model_forms.router)  # /console/models/new before /{model_id}


@router.get("/console/models")
async def models_page(request: Request) -> Response:
    signed = await admin(request)
    wanted = Wanted.read(request.query_params)
    providers = await registry_of(request).overview.list_with_models(signed.actor())
    return page(
        request,
        signed,
        "models.html",
        {
            "title": "Models",
            "table": table(providers, wanted),
            "wanted": wanted,
            "back": wanted.here(),
            "statuses": STATUSES,
            "scopes": SCOPES,
            "amount": amount,
            "notice": notice(request),
            "styles": ("console-models.css",),
        },
    )


@router.post("/console/models/{model_id}/default")
async def set_default(request: Request, model_id: str) -> Response:
    signed = await admin(request)
    form = await posted(request, signed)
    registry = registry_of(request)
    try:
        view = await found(registry.models.set_default(signed.actor(), model_id))
    except Conflict as exc:
        raise PageError(409, "The model cannot be the default", exc.message) from None
    return back_to(form, f"/console/models/{view.id}", "default")


router.include_router(model_detail.router)
