"""/api/v1/overview: every provider you may see with its models and current prices (seed
001's admin listing), served from the registry's snapshot as pre-encoded JSON."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from modelyard.api.deps import ModelsReader, RegistryDep
from modelyard.registry.lookup import ProviderFilter
from modelyard.registry.overview import ProviderOverview

router = APIRouter(tags=["providers"])


@router.get(
    "/overview",
    summary="Providers with their models and current prices",
    response_model=list[ProviderOverview],
)
async def overview(
    registry: RegistryDep,
    actor: ModelsReader,
    owner: Annotated[Literal["system", "mine", "all"], Query()] = "all",
    kind: str | None = None,
    enabled: bool | None = None,
) -> Response:
    filters = ProviderFilter(owner=owner, kind=kind, enabled=enabled)
    body = await registry.overview.list_with_models_json(actor, filters)
    return Response(body, media_type="application/json")
