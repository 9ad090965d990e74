"""/api/v1/providers: system and bring-your-own-key provider instances."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, Field, SecretStr

from modelyard.api.deps import Paging, Reader, RegistryDep, Writer
from modelyard.registry.common import Page
from modelyard.registry.lookup import ProviderFilter
from modelyard.registry.model_views import ModelView
from modelyard.registry.models import ModelFilter
from modelyard.registry.provider_views import ProviderView
from modelyard.registry.providers import ProviderCreate, ProviderUpdate

router = APIRouter(prefix="/providers", tags=["providers"])


class ApiKeyBody(BaseModel):
    api_key: SecretStr | None = Field(description="the new key; null removes it where allowed")


@router.get("", summary="List the providers you may see")
async def list_providers(
    registry: RegistryDep,
    actor: Reader,
    page: Paging,
    owner: Annotated[Literal["system", "mine", "all"], Query()] = "all",
    kind: str | None = None,
    enabled: bool | None = None,
) -> Page[ProviderView]:
    filters = ProviderFilter(owner=owner, kind=kind, enabled=enabled)
    return await registry.providers.list(actor, page, filters)


@router.post("", status_code=201, summary="Create a provider")
async def create_provider(
    registry: RegistryDep,
    actor: Writer,
    body: Annotated[
        ProviderCreate,
        Body(
            openapi_examples={
                "openai": {
                    "value": {
                        "name": "openai",
                        "kind": "openai",
                        "api_key": "sk-...",
                        "is_default": True,
                    }
                }
            },
        ),
    ],
) -> ProviderView:
    return await registry.providers.create(actor, body)


@router.get("/{provider_id}", summary="One provider")
async def get_provider(registry: RegistryDep, actor: Reader, provider_id: str) -> ProviderView:
    return await registry.providers.get(actor, provider_id)


@router.patch("/{provider_id}", summary="Change a provider's settings")
async def update_provider(
    registry: RegistryDep,
    actor: Writer,
    provider_id: str,
    body: ProviderUpdate,
) -> ProviderView:
    return await registry.providers.update(actor, provider_id, body)


@router.delete("/{provider_id}", status_code=204, summary="Delete a provider and its models")
async def delete_provider(registry: RegistryDep, actor: Writer, provider_id: str) -> Response:
    await registry.providers.delete(actor, provider_id)
    return Response(status_code=204)


@router.put("/{provider_id}/api-key", summary="Rotate (or remove) the provider's API key")
async def rotate_key(
    registry: RegistryDep, actor: Writer, provider_id: str, body: ApiKeyBody
) -> ProviderView:
    key = body.api_key.get_secret_value() if body.api_key is not None else None
    return await registry.providers.rotate_key(actor, provider_id, key)


@router.post("/{provider_id}/enable", summary="Enable a provider")
async def enable(registry: RegistryDep, actor: Writer, provider_id: str) -> ProviderView:
    return await registry.providers.set_enabled(actor, provider_id, True)


@router.post("/{provider_id}/disable", summary="Disable a provider")
async def disable(registry: RegistryDep, actor: Writer, provider_id: str) -> ProviderView:
    return await registry.providers.set_enabled(actor, provider_id, False)


@router.post("/{provider_id}/set-default", summary="Make it its owner's default provider")
async def set_default(registry: RegistryDep, actor: Writer, provider_id: str) -> ProviderView:
    return await registry.providers.set_default(actor, provider_id)


@router.post("/{provider_id}/activate", summary="Make it the active system provider")
async def activate(registry: RegistryDep, actor: Writer, provider_id: str) -> ProviderView:
    return await registry.providers.activate(actor, provider_id)


@router.get("/{provider_id}/models", summary="The provider's models")
async def provider_models(
    registry: RegistryDep, actor: Reader, provider_id: uuid.UUID, page: Paging
) -> Page[ModelView]:
    await registry.providers.get(actor, provider_id)
    return await registry.models.list(actor, page, ModelFilter(provider_id=provider_id))
