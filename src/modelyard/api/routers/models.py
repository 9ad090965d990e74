"""/api/v1/models: the model catalog, its lifecycle and its effective-dated prices."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response

from modelyard.api.deps import ModelsReader, Paging, RegistryDep, Writer
from modelyard.registry.common import Page
from modelyard.registry.fields import Instant
from modelyard.registry.model_views import ModelView, PriceView
from modelyard.registry.models import ModelCreate, ModelFilter, ModelUpdate
from modelyard.registry.prices import PriceSpec

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", summary="List the models you may see")
async def list_models(
    registry: RegistryDep,
    actor: ModelsReader,
    page: Paging,
    provider_id: uuid.UUID | None = None,
    status: Annotated[Literal["ACTIVE", "DEPRECATED"] | None, Query()] = None,
    capability: str | None = None,
) -> Page[ModelView]:
    filters = ModelFilter(provider_id=provider_id, status=status, capability=capability)
    return await registry.models.list(actor, page, filters)


@router.post("", status_code=201, summary="Add a model to a provider, optionally with a price")
async def create_model(
    registry: RegistryDep,
    actor: Writer,
    body: Annotated[
        ModelCreate,
        Body(
            openapi_examples={
                "gpt-4o-mini": {
                    "value": {
                        "provider_id": "00000000-0000-0000-0000-000000000000",
                        "model_id": "gpt-4o-mini",
                        "capabilities": ["text", "vision", "function_calling"],
                        "context_window": 128000,
                        "price": {"input_per_mtok": "0.15", "output_per_mtok": "0.60"},
                    }
                }
            },
        ),
    ],
) -> ModelView:
    return await registry.models.create(actor, body)


@router.get("/{model_id}", summary="One model, with its current price")
async def get_model(registry: RegistryDep, actor: ModelsReader, model_id: str) -> ModelView:
    return await registry.models.get(actor, model_id)


@router.patch("/{model_id}", summary="Change a model's details")
async def update_model(
    registry: RegistryDep, actor: Writer, model_id: str, body: ModelUpdate
) -> ModelView:
    return await registry.models.update(actor, model_id, body)


@router.delete("/{model_id}", status_code=204, summary="Delete a model and its prices")
async def delete_model(registry: RegistryDep, actor: Writer, model_id: str) -> Response:
    await registry.models.delete(actor, model_id)
    return Response(status_code=204)


@router.post("/{model_id}/deprecate", summary="Mark a model DEPRECATED")
async def deprecate(registry: RegistryDep, actor: Writer, model_id: str) -> ModelView:
    return await registry.models.set_status(actor, model_id, "DEPRECATED")


@router.post("/{model_id}/reactivate", summary="Mark a DEPRECATED model ACTIVE again")
async def reactivate(registry: RegistryDep, actor: Writer, model_id: str) -> ModelView:
    return await registry.models.set_status(actor, model_id, "ACTIVE")


@router.post("/{model_id}/set-default", summary="Make it the system default model")
async def set_default(registry: RegistryDep, actor: Writer, model_id: str) -> ModelView:
    return await registry.models.set_default(actor, model_id)


@router.get("/{model_id}/prices", summary="The model's price history, oldest first")
async def price_history(
    registry: RegistryDep, actor: ModelsReader, model_id: str
) -> list[PriceView]:
    return await registry.prices.history(actor, model_id)


@router.post(
    "/{model_id}/prices", status_code=201, summary="Append a price (effective now or later)"
)
async def append_price(
    registry: RegistryDep, actor: Writer, model_id: str, body: PriceSpec
) -> PriceView:
    return await registry.prices.set(actor, model_id, body)


@router.get("/{model_id}/price", summary="The price in force at a given time")
async def price_at(
    registry: RegistryDep,
    actor: ModelsReader,
    model_id: str,
    at: Annotated[
        Instant, Query(description="ISO 8601 time with a zone, e.g. 2026-01-01T00:00:00Z")
    ],
) -> PriceView:
    return await registry.prices.at(actor, model_id, at)
