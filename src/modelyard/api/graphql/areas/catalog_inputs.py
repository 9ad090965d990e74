"""The catalog's inputs, named as the registry's specs name their fields (so ``raw()`` of
an input goes to the service unchanged; the service validates it as REST's body)."""

from __future__ import annotations

import datetime

import strawberry
from strawberry.types.unset import UNSET

from modelyard.api.graphql.scalars import JSON, Decimal


@strawberry.input(description="A price: per million tokens, in `currency` (default USD).")
class PriceInput:
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = UNSET
    cache_write_per_mtok: Decimal | None = UNSET
    credits_per_1k: Decimal | None = UNSET
    currency: str | None = UNSET
    effective_from: datetime.datetime | None = strawberry.field(
        default=UNSET, description="when it takes effect (default: now)"
    )


@strawberry.input(description="A new model of a provider, optionally with its first price.")
class CreateLlmModelInput:
    provider_id: strawberry.ID
    model_id: str
    display_name: str | None = UNSET
    context_window: int | None = UNSET
    max_output_tokens: int | None = UNSET
    capabilities: list[str] | None = UNSET
    fallbacks: list[str] | None = UNSET
    price: PriceInput | None = UNSET


@strawberry.input(description="What to change of a model; fields left out stay as they are.")
class UpdateLlmModelInput:
    display_name: str | None = UNSET
    context_window: int | None = UNSET
    max_output_tokens: int | None = UNSET
    capabilities: list[str] | None = UNSET
    fallbacks: list[str] | None = UNSET


@strawberry.input(description="What to change of a provider; fields left out stay as they are.")
class UpdateProviderInput:
    name: str | None = UNSET
    display_name: str | None = UNSET
    description: str | None = UNSET
    base_url: str | None = UNSET
    organization: str | None = UNSET
    custom_headers: JSON | None = UNSET
    config: JSON | None = UNSET
    timeout_ms: int | None = UNSET
    max_parallel: int | None = UNSET
    rpm_limit: int | None = UNSET
    tpm_limit: int | None = UNSET
    weight: int | None = UNSET


@strawberry.input(description="A new provider (`owner`: system or me; default as REST's).")
class CreateProviderInput:
    name: str
    kind: str
    api_key: str | None = strawberry.field(
        default=UNSET, description="the upstream key; sealed at rest, never shown again"
    )
    enabled: bool | None = UNSET
    is_default: bool | None = UNSET
    owner: str | None = UNSET
    display_name: str | None = UNSET
    description: str | None = UNSET
    base_url: str | None = UNSET
    organization: str | None = UNSET
    custom_headers: JSON | None = UNSET
    config: JSON | None = UNSET
    timeout_ms: int | None = UNSET
    max_parallel: int | None = UNSET
    rpm_limit: int | None = UNSET
    tpm_limit: int | None = UNSET
    weight: int | None = UNSET


__all__ = [
    "CreateLlmModelInput",
    "CreateProviderInput",
    "PriceInput",
    "UpdateLlmModelInput",
    "UpdateProviderInput",
]
