"""What the outside world sees of a model and its prices."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from modelyard.db.tables import Model, ModelPrice
from modelyard.registry.common import Amount, View

CAPABILITIES = (
    "text",
    "vision",
    "function_calling",
    "code",
    "long_context",
    "embedding",
    "json_mode",
    "streaming",
    "completion",
)


class PriceView(View):
    id: uuid.UUID
    model_id: uuid.UUID
    input_per_mtok: Amount
    output_per_mtok: Amount
    cached_input_per_mtok: Amount | None
    cache_write_per_mtok: Amount | None
    credits_per_1k: Amount | None
    currency: str
    effective_from: datetime
    created_at: datetime


class ModelView(View):
    id: uuid.UUID
    provider_id: uuid.UUID
    model_id: str
    display_name: str
    context_window: int | None
    max_output_tokens: int | None
    capabilities: list[str]
    fallbacks: list[str]
    status: str
    is_default: bool
    config_version: int
    price: PriceView | None
    created_at: datetime
    updated_at: datetime


def view_of(model: Model, price: ModelPrice | None) -> ModelView:
    return ModelView(
        id=model.id,
        provider_id=model.provider_id,
        model_id=model.model_id,
        display_name=model.display_name,
        context_window=model.context_window,
        max_output_tokens=model.max_output_tokens,
        capabilities=list(model.capabilities),
        fallbacks=list(model.fallbacks or []),
        status=model.status,
        is_default=model.is_default,
        config_version=model.config_version,
        price=PriceView.model_validate(price) if price is not None else None,
        created_at=model.created_at,
        updated_at=model.updated_at,
    )


def snapshot(model: Model) -> dict[str, Any]:
    data = view_of(model, None).model_dump(mode="json")
    for key in ("price", "created_at", "updated_at"):
        data.pop(key)
    return data
