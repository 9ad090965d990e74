"""The catalog's dataloaders: each relation asks its service once for every parent of a
request (provider -> models, model -> provider, model -> price history, provider or model
-> usage totals). A loader's name holds every argument its answers depend on besides the
key, so fields asking with different arguments never share one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from strawberry.dataloader import DataLoader

from modelyard.api.graphql.context import Info
from modelyard.errors import NotFound
from modelyard.registry.model_views import ModelView, PriceView
from modelyard.registry.provider_views import ProviderView
from modelyard.registry.scopes import MODELS_READ, REGISTRY_READ
from modelyard.usage.report import UsageTotal

Ids = list[uuid.UUID]


def models(
    info: Info, status: Literal["ACTIVE", "DEPRECATED"] | None
) -> DataLoader[uuid.UUID, list[ModelView]]:
    """A provider's models (as GET /api/v1/models lists them). Scope models.read."""
    actor = info.context.need(MODELS_READ)
    registry = info.context.registry

    async def load(ids: Ids) -> list[list[ModelView]]:
        return await registry.models.for_providers(actor, ids, status)

    return info.context.loader(("catalog.models", status), load)


def provider(info: Info) -> DataLoader[uuid.UUID, ProviderView | None]:
    """A model's provider. Scope models.read (the overview's)."""
    actor = info.context.need(MODELS_READ)
    registry = info.context.registry

    async def load(ids: Ids) -> list[ProviderView | None]:
        return await registry.providers.many(actor, ids)

    return info.context.loader("catalog.provider", load)


def price_history(info: Info) -> DataLoader[uuid.UUID, list[PriceView]]:
    """A model's prices, oldest first. Scope models.read."""
    actor = info.context.need(MODELS_READ)
    registry = info.context.registry

    async def load(ids: Ids) -> list[list[PriceView]]:
        return await registry.prices.histories(actor, ids)

    return info.context.loader("catalog.price_history", load)


def usage(
    info: Info,
    of: Literal["provider", "model"],
    since: datetime | None,
    until: datetime | None,
) -> DataLoader[uuid.UUID, list[UsageTotal]]:
    """A provider's or a model's usage totals. Scope registry.read (the usage report's)."""
    actor = info.context.need(REGISTRY_READ)
    registry = info.context.registry

    async def load(ids: Ids) -> list[list[UsageTotal]]:
        return await registry.usage_of.totals(actor, of, ids, since, until)

    return info.context.loader(("catalog.usage", of, since, until), load)


def provider_gone(provider_id: object) -> NotFound:
    return NotFound(f"provider {provider_id} not found", code="PROVIDER_NOT_FOUND")


__all__ = ["models", "price_history", "provider", "provider_gone", "usage"]
