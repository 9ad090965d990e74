"""Providers as REST's /api/v1/providers has them: ``provider``, ``providers`` and their
changes (create, update, delete, rotate the key, enable, disable, default, activate)."""

from __future__ import annotations

import strawberry
from strawberry.types.unset import UNSET

from modelyard.api.graphql.areas.catalog_inputs import CreateProviderInput, UpdateProviderInput
from modelyard.api.graphql.areas.catalog_types import LlmProvider, ProviderOwner
from modelyard.api.graphql.context import Info
from modelyard.api.graphql.inputs import raw
from modelyard.api.graphql.pagination import Connection, from_page, window
from modelyard.errors import ValidationFailed
from modelyard.registry.lookup import ProviderFilter
from modelyard.registry.scopes import REGISTRY_READ, REGISTRY_WRITE


@strawberry.type
class Query:
    @strawberry.field(description="One provider (GET /api/v1/providers/{id}). Scope registry.read.")
    async def provider(self, info: Info, id: strawberry.ID) -> LlmProvider:
        actor = info.context.need(REGISTRY_READ)
        return LlmProvider.of(await info.context.registry.providers.get(actor, id))

    @strawberry.field(
        description="The providers you may see, a page at a time (GET /api/v1/providers)."
        " Scope registry.read."
    )
    async def providers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        owner: ProviderOwner | None = ProviderOwner.ALL,
        kind: str | None = None,
        enabled: bool | None = None,
    ) -> Connection[LlmProvider]:
        actor = info.context.need(REGISTRY_READ)
        at = window(first, after)
        filters = ProviderFilter(
            owner=(owner or ProviderOwner.ALL).value, kind=kind, enabled=enabled
        )
        page = await info.context.registry.providers.list(actor, at.request(), filters)
        return from_page(page, at, LlmProvider.of)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Create a provider; its API key is sealed and only a hint shown."
        " Scope registry.write."
    )
    async def create_provider(self, info: Info, input: CreateProviderInput) -> LlmProvider:
        actor = info.context.need(REGISTRY_WRITE)
        return LlmProvider.of(await info.context.registry.providers.create(actor, raw(input)))

    @strawberry.mutation(description="Change a provider's settings. Scope registry.write.")
    async def update_provider(
        self, info: Info, id: strawberry.ID, input: UpdateProviderInput
    ) -> LlmProvider:
        actor = info.context.need(REGISTRY_WRITE)
        return LlmProvider.of(await info.context.registry.providers.update(actor, id, raw(input)))

    @strawberry.mutation(
        description="Delete a provider and its models; answers its id. Scope registry.write."
    )
    async def delete_provider(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        actor = info.context.need(REGISTRY_WRITE)
        await info.context.registry.providers.delete(actor, id)
        return id

    @strawberry.mutation(
        description="Replace (or, with null where the kind allows, remove) the provider's API"
        " key. Scope registry.write."
    )
    async def rotate_provider_key(
        self, info: Info, id: strawberry.ID, api_key: str | None = UNSET
    ) -> LlmProvider:
        actor = info.context.need(REGISTRY_WRITE)
        if api_key is UNSET:  # as REST's body: the key, or null to remove it, must be said
            raise ValidationFailed.at("api_key", "is required (null removes the key)")
        return LlmProvider.of(await info.context.registry.providers.rotate_key(actor, id, api_key))

    @strawberry.mutation(description="Enable a provider. Scope registry.write.")
    async def enable_provider(self, info: Info, id: strawberry.ID) -> LlmProvider:
        actor = info.context.need(REGISTRY_WRITE)
        return LlmProvider.of(await info.context.registry.providers.set_enabled(actor, id, True))

    @strawberry.mutation(description="Disable a provider. Scope registry.write.")
    async def disable_provider(self, info: Info, id: strawberry.ID) -> LlmProvider:
        actor = info.context.need(REGISTRY_WRITE)
        return LlmProvider.of(await info.context.registry.providers.set_enabled(actor, id, False))

    @strawberry.mutation(description="Make it its owner's default provider. Scope registry.write.")
    async def set_default_provider(self, info: Info, id: strawberry.ID) -> LlmProvider:
        actor = info.context.need(REGISTRY_WRITE)
        return LlmProvider.of(await info.context.registry.providers.set_default(actor, id))

    @strawberry.mutation(
        description="Make it the active system provider (admins). Scope registry.write."
    )
    async def activate_provider(self, info: Info, id: strawberry.ID) -> LlmProvider:
        actor = info.context.need(REGISTRY_WRITE)
        return LlmProvider.of(await info.context.registry.providers.activate(actor, id))
