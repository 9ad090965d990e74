"""The shape of a registry document as an import takes it: every container and field typed,
so a malformed document is a 422 naming the place, never a failure half-way. Values are
checked again, field by field, by the services that apply them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from modelyard.errors import check
from modelyard.registry.common import Spec


class PriceDoc(Spec):
    effective_from: str | None = None
    input_per_mtok: str | int | None = None
    output_per_mtok: str | int | None = None
    cached_input_per_mtok: str | int | None = None
    credits_per_1k: str | int | None = None
    currency: str | None = None


class ModelDoc(Spec):
    model_id: str = Field(min_length=1, max_length=200)
    display_name: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: list[str] | None = None
    fallbacks: list[str] | None = None
    status: Literal["ACTIVE", "DEPRECATED"] | None = None
    is_default: bool | None = None
    prices: list[PriceDoc] = Field(default_factory=list)


class ProviderDoc(Spec):
    name: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=32)
    display_name: str | None = None
    description: str | None = None
    base_url: str | None = None
    organization: str | None = None
    custom_headers: dict[str, str] | None = None
    config: dict[str, Any] | None = None
    timeout_ms: int | None = None
    max_parallel: int | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    weight: int | None = None
    enabled: bool | None = None
    is_default: bool | None = None
    is_active: bool | None = None
    activate_if_none: bool | None = None  # converted files: seed 004's active provider
    api_key: dict[str, str] | None = None
    models: list[ModelDoc] = Field(default_factory=list)


class PlanDoc(Spec):
    name: str = Field(min_length=1, max_length=64)
    display_name: str | None = None
    monthly_credits: str | int | None = None
    rollover: str | None = None
    rollover_cap: str | int | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel: int | None = None
    allowed_models: list[str] | None = None
    allowed_capabilities: list[str] | None = None
    active: bool | None = None


class DocumentDoc(Spec):
    format: str
    version: int
    providers: list[ProviderDoc] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    plans: list[PlanDoc] = Field(default_factory=list)


def checked(document: dict[str, Any]) -> dict[str, Any]:
    """The document, typed; fields it left out stay out (a partial document keeps them)."""
    valid: DocumentDoc = check(DocumentDoc, document)
    result: dict[str, Any] = valid.model_dump(exclude_unset=True)
    return result
