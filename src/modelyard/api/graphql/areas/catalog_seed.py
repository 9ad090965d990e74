"""Seed 001's catalog operations: ``llmProviders``, ``llmModels``, ``availableModels``,
``createLlmModel``, ``updateLlmModel``, ``deprecateLlmModel`` and ``setDefaultModel``."""

from __future__ import annotations

import strawberry

from modelyard.api.graphql.areas.catalog_docs import providers_of
from modelyard.api.graphql.areas.catalog_inputs import CreateLlmModelInput, UpdateLlmModelInput
from modelyard.api.graphql.areas.catalog_types import (
    LlmModel,
    LlmProvider,
    ModelStatus,
    ProviderOwner,
)
from modelyard.api.graphql.context import Info
from modelyard.api.graphql.inputs import raw
from modelyard.errors import check
from modelyard.registry.lookup import ProviderFilter
from modelyard.registry.models import ModelFilter
from modelyard.registry.overview import Doc
from modelyard.registry.scopes import MODELS_READ, REGISTRY_WRITE


def _models(info: Info, docs: list[Doc]) -> list[LlmModel]:
    """The models of the overview's providers, provider by provider."""
    return [m for p in providers_of(info, docs) for m in p._models or ()]


@strawberry.type
class Query:
    @strawberry.field(
        description="Every provider you may see, with its models and their current prices"
        " (GET /api/v1/overview). Scope models.read."
    )
    async def llm_providers(
        self,
        info: Info,
        owner: ProviderOwner | None = ProviderOwner.ALL,
        kind: str | None = None,
        enabled: bool | None = None,
    ) -> list[LlmProvider]:
        actor = info.context.need(MODELS_READ)
        filters = ProviderFilter(
            owner=(owner or ProviderOwner.ALL).value, kind=kind, enabled=enabled
        )
        docs = await info.context.registry.overview.list_with_models(actor, filters)
        return providers_of(info, docs)

    @strawberry.field(
        description="Every model you may see (GET /api/v1/models, unpaged), provider by"
        " provider in llmProviders' order. Scope models.read."
    )
    async def llm_models(
        self,
        info: Info,
        provider_id: strawberry.ID | None = None,
        status: ModelStatus | None = None,
        capability: str | None = None,
    ) -> list[LlmModel]:
        actor = info.context.need(MODELS_READ)
        filters: ModelFilter = check(
            ModelFilter, {"provider_id": provider_id, "status": status and status.value}
        )
        overview = info.context.registry.overview
        docs = await overview.models(actor, filters.provider_id, filters.status, capability)
        return _models(info, docs)

    @strawberry.field(
        description="The models you can call right now: ACTIVE, of enabled providers you may"
        " use, allowed by your plan (what /v1/models lists, less the deprecated)."
        " Scope models.read."
    )
    async def available_models(self, info: Info, capability: str | None = None) -> list[LlmModel]:
        actor = info.context.need(MODELS_READ)
        return _models(info, await info.context.registry.overview.available(actor, capability))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Add a model to a provider, optionally with its first price (POST"
        " /api/v1/models). Scope registry.write."
    )
    async def create_llm_model(self, info: Info, input: CreateLlmModelInput) -> LlmModel:
        actor = info.context.need(REGISTRY_WRITE)
        return LlmModel.of(await info.context.registry.models.create(actor, raw(input)))

    @strawberry.mutation(
        description="Change a model's details (PATCH /api/v1/models/{id}). Scope registry.write."
    )
    async def update_llm_model(
        self, info: Info, id: strawberry.ID, input: UpdateLlmModelInput
    ) -> LlmModel:
        actor = info.context.need(REGISTRY_WRITE)
        return LlmModel.of(await info.context.registry.models.update(actor, id, raw(input)))

    @strawberry.mutation(description="Mark a model DEPRECATED. Scope registry.write.")
    async def deprecate_llm_model(self, info: Info, id: strawberry.ID) -> LlmModel:
        actor = info.context.need(REGISTRY_WRITE)
        return LlmModel.of(await info.context.registry.models.set_status(actor, id, "DEPRECATED"))

    @strawberry.mutation(
        description="Make an ACTIVE model of a system provider the system default (admins)."
        " Scope registry.write."
    )
    async def set_default_model(self, info: Info, id: strawberry.ID) -> LlmModel:
        actor = info.context.need(REGISTRY_WRITE)
        return LlmModel.of(await info.context.registry.models.set_default(actor, id))
