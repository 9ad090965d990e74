"""Models and prices as REST's /api/v1/models has them beyond seed 001's operations:
``model``, ``models``, ``modelPriceAt``, ``reactivateLlmModel``, ``deleteLlmModel`` and
``setModelPrice``."""

from __future__ import annotations

import datetime

import strawberry

from modelyard.api.graphql.areas.catalog_inputs import PriceInput
from modelyard.api.graphql.areas.catalog_types import LlmModel, ModelPrice, ModelStatus
from modelyard.api.graphql.context import Info
from modelyard.api.graphql.inputs import raw
from modelyard.api.graphql.pagination import Connection, from_page, window
from modelyard.errors import check
from modelyard.registry.models import ModelFilter
from modelyard.registry.scopes import MODELS_READ, REGISTRY_WRITE


@strawberry.type
class Query:
    @strawberry.field(
        description="One model with its current price (GET /api/v1/models/{id}). Scope models.read."
    )
    async def model(self, info: Info, id: strawberry.ID) -> LlmModel:
        actor = info.context.need(MODELS_READ)
        return LlmModel.of(await info.context.registry.models.get(actor, id))

    @strawberry.field(
        description="The models you may see, a page at a time (GET /api/v1/models)."
        " Scope models.read."
    )
    async def models(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        provider_id: strawberry.ID | None = None,
        status: ModelStatus | None = None,
        capability: str | None = None,
    ) -> Connection[LlmModel]:
        actor = info.context.need(MODELS_READ)
        at = window(first, after)
        filters: ModelFilter = check(
            ModelFilter,
            {
                "provider_id": provider_id,
                "status": status and status.value,
                "capability": capability,
            },
        )
        page = await info.context.registry.models.list(actor, at.request(), filters)
        return from_page(page, at, LlmModel.of)

    @strawberry.field(
        description="The model's price in force at `at` (GET /api/v1/models/{id}/price)."
        " Scope models.read."
    )
    async def model_price_at(
        self, info: Info, model_id: strawberry.ID, at: datetime.datetime
    ) -> ModelPrice:
        actor = info.context.need(MODELS_READ)
        return ModelPrice.of(await info.context.registry.prices.at(actor, model_id, at))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Mark a DEPRECATED model ACTIVE again. Scope registry.write.")
    async def reactivate_llm_model(self, info: Info, id: strawberry.ID) -> LlmModel:
        actor = info.context.need(REGISTRY_WRITE)
        return LlmModel.of(await info.context.registry.models.set_status(actor, id, "ACTIVE"))

    @strawberry.mutation(
        description="Delete a model and its prices; answers its id. Scope registry.write."
    )
    async def delete_llm_model(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        actor = info.context.need(REGISTRY_WRITE)
        await info.context.registry.models.delete(actor, id)
        return id

    @strawberry.mutation(
        description="Append a price to a model, effective now or later (POST"
        " /api/v1/models/{id}/prices). Scope registry.write."
    )
    async def set_model_price(
        self, info: Info, model_id: strawberry.ID, input: PriceInput
    ) -> ModelPrice:
        actor = info.context.need(REGISTRY_WRITE)
        return ModelPrice.of(await info.context.registry.prices.set(actor, model_id, raw(input)))
