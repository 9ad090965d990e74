"""The catalog's types: providers, models and prices as the registry's views show them.

Leaf fields are plain (the executor completes them directly); relations are resolver
fields through this request's dataloaders (:mod:`.catalog_loaders`), so a list of N
parents costs one service call per relation, not N. A provider listed by ``llmProviders``
comes with its models already (the registry's overview snapshot holds them) and its
models with their provider, so those two relations cost nothing there."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Any, Literal

import strawberry

from modelyard.api.graphql.areas import catalog_loaders as loaders
from modelyard.api.graphql.areas.usage_totals import UsageTotal
from modelyard.api.graphql.context import Info
from modelyard.api.graphql.scalars import JSON, Decimal
from modelyard.registry.model_views import ModelView, PriceView
from modelyard.registry.overview import Doc
from modelyard.registry.provider_views import ProviderView


@strawberry.enum(description="A model's lifecycle state.")
class ModelStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    DEPRECATED = "DEPRECATED"


@strawberry.enum(description="Whose providers: system ones, the caller's own, or both.")
class ProviderOwner(enum.Enum):
    SYSTEM = "system"
    MINE = "mine"
    ALL = "all"


Status = Literal["ACTIVE", "DEPRECATED"]
STATUSES: dict[ModelStatus, Status] = {
    ModelStatus.ACTIVE: "ACTIVE",
    ModelStatus.DEPRECATED: "DEPRECATED",
}


def _id(value: uuid.UUID | str) -> strawberry.ID:
    return strawberry.ID(str(value))


def _uuid(value: strawberry.ID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


@strawberry.type(description="A price of a model, in force from `effectiveFrom` on.")
class ModelPrice:
    id: strawberry.ID
    model_id: strawberry.ID
    input_per_mtok: Decimal = strawberry.field(description="per million input tokens")
    output_per_mtok: Decimal = strawberry.field(description="per million output tokens")
    cached_input_per_mtok: Decimal | None
    cache_write_per_mtok: Decimal | None
    credits_per_1k: Decimal | None = strawberry.field(description="credits per 1,000 tokens")
    currency: str
    effective_from: datetime.datetime
    created_at: datetime.datetime

    @classmethod
    def of(cls, view: PriceView) -> ModelPrice:
        return cls(
            id=_id(view.id),
            model_id=_id(view.model_id),
            input_per_mtok=Decimal(view.input_per_mtok),
            output_per_mtok=Decimal(view.output_per_mtok),
            cached_input_per_mtok=_amount(view.cached_input_per_mtok),
            cache_write_per_mtok=_amount(view.cache_write_per_mtok),
            credits_per_1k=_amount(view.credits_per_1k),
            currency=view.currency,
            effective_from=view.effective_from,
            created_at=view.created_at,
        )

    @classmethod
    def of_doc(cls, doc: Doc) -> ModelPrice:
        """From the overview's JSON-native form (ids, times and amounts as strings)."""
        return cls(
            id=strawberry.ID(doc["id"]),
            model_id=strawberry.ID(doc["model_id"]),
            input_per_mtok=Decimal(decimal.Decimal(doc["input_per_mtok"])),
            output_per_mtok=Decimal(decimal.Decimal(doc["output_per_mtok"])),
            cached_input_per_mtok=_amount(doc["cached_input_per_mtok"]),
            cache_write_per_mtok=_amount(doc["cache_write_per_mtok"]),
            credits_per_1k=_amount(doc["credits_per_1k"]),
            currency=doc["currency"],
            effective_from=_time(doc["effective_from"]),
            created_at=_time(doc["created_at"]),
        )


def _amount(value: Any) -> Decimal | None:
    return None if value is None else Decimal(decimal.Decimal(value))


def _time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)


@strawberry.type(description="A model a provider serves, with the price in force now.")
class LlmModel:
    id: strawberry.ID
    provider_id: strawberry.ID
    model_id: str = strawberry.field(description="the provider's name for it, e.g. gpt-4o")
    display_name: str
    context_window: int | None
    max_output_tokens: int | None
    capabilities: list[str]
    fallbacks: list[str] = strawberry.field(description="provider-name/model-id, in order")
    status: ModelStatus
    is_default: bool
    config_version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    price: ModelPrice | None = strawberry.field(description="the price in force now, if any")
    _provider: strawberry.Private[LlmProvider | None] = None

    @classmethod
    def of(cls, view: ModelView, provider: LlmProvider | None = None) -> LlmModel:
        return cls(
            id=_id(view.id),
            provider_id=_id(view.provider_id),
            model_id=view.model_id,
            display_name=view.display_name,
            context_window=view.context_window,
            max_output_tokens=view.max_output_tokens,
            capabilities=list(view.capabilities),
            fallbacks=list(view.fallbacks),
            status=ModelStatus(view.status),
            is_default=view.is_default,
            config_version=view.config_version,
            created_at=view.created_at,
            updated_at=view.updated_at,
            price=ModelPrice.of(view.price) if view.price is not None else None,
            _provider=provider,
        )

    @classmethod
    def of_doc(cls, doc: Doc, provider: LlmProvider | None = None) -> LlmModel:
        """From the overview's JSON-native form, served by ``provider``."""
        price = doc["price"]
        return cls(
            id=strawberry.ID(doc["id"]),
            provider_id=strawberry.ID(doc["provider_id"]),
            model_id=doc["model_id"],
            display_name=doc["display_name"],
            context_window=doc["context_window"],
            max_output_tokens=doc["max_output_tokens"],
            capabilities=list(doc["capabilities"]),
            fallbacks=list(doc["fallbacks"] or []),
            status=ModelStatus(doc["status"]),
            is_default=doc["is_default"],
            config_version=doc["config_version"],
            created_at=_time(doc["created_at"]),
            updated_at=_time(doc["updated_at"]),
            price=ModelPrice.of_doc(price) if price is not None else None,
            _provider=provider,
        )

    @strawberry.field(description="The provider serving it. Scope models.read.")
    async def provider(self, info: Info) -> LlmProvider:
        if self._provider is not None:
            return self._provider
        listed = info.context.memo.get(("provider", self.provider_id))
        if isinstance(listed, LlmProvider):  # among the providers this request answered
            return listed
        found = await loaders.provider(info).load(_uuid(self.provider_id))
        if found is None:  # deleted since: as REST would answer for it
            raise loaders.provider_gone(self.provider_id)
        return LlmProvider.of(found)

    @strawberry.field(
        description="Every price it has had and will have, oldest first. Scope models.read."
    )
    async def price_history(self, info: Info) -> list[ModelPrice]:
        views = await loaders.price_history(info).load(_uuid(self.id))
        return [ModelPrice.of(v) for v in views]

    @strawberry.field(
        description="Its calls' totals from `since` to before `until`, one per currency (a"
        " member's: their own calls). Scope registry.read."
    )
    async def usage(
        self,
        info: Info,
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
    ) -> list[UsageTotal]:
        totals = await loaders.usage(info, "model", since, until).load(_uuid(self.id))
        return [UsageTotal.of(t) for t in totals]


@strawberry.type(description="A provider instance: a system one or a user's own.")
class LlmProvider:
    id: strawberry.ID
    scope: str = strawberry.field(description="system or user")
    owner_user_id: strawberry.ID | None
    kind: str
    name: str
    display_name: str
    description: str
    base_url: str
    api_key: str | None = strawberry.field(description="a masked hint, never the key")
    has_api_key: bool
    organization: str | None
    custom_headers: JSON
    config: JSON
    timeout_ms: int
    max_parallel: int | None
    rpm_limit: int | None
    tpm_limit: int | None
    weight: int
    enabled: bool
    is_default: bool
    is_active: bool
    config_version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    _models: strawberry.Private[list[LlmModel] | None] = None

    @classmethod
    def of(cls, view: ProviderView) -> LlmProvider:
        return cls(
            id=_id(view.id),
            scope=view.scope,
            owner_user_id=_id(view.owner_user_id) if view.owner_user_id else None,
            kind=view.kind,
            name=view.name,
            display_name=view.display_name,
            description=view.description,
            base_url=view.base_url,
            api_key=view.api_key,
            has_api_key=view.has_api_key,
            organization=view.organization,
            custom_headers=JSON(dict(view.custom_headers)),
            config=JSON(dict(view.config)),
            timeout_ms=view.timeout_ms,
            max_parallel=view.max_parallel,
            rpm_limit=view.rpm_limit,
            tpm_limit=view.tpm_limit,
            weight=view.weight,
            enabled=view.enabled,
            is_default=view.is_default,
            is_active=view.is_active,
            config_version=view.config_version,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )

    @classmethod
    def of_doc(cls, doc: Doc, models: list[LlmModel] | None = None) -> LlmProvider:
        """From the overview's JSON-native form, with its models (they need no loader):
        ``models`` when given (:mod:`.catalog_docs` keeps them), else made here."""
        owner = doc["owner_user_id"]
        provider = cls(
            id=strawberry.ID(doc["id"]),
            owner_user_id=strawberry.ID(owner) if owner is not None else None,
            created_at=_time(doc["created_at"]),
            updated_at=_time(doc["updated_at"]),
            **{name: doc[name] for name in _PLAIN_PROVIDER_FIELDS},
        )
        if models is None:
            models = [LlmModel.of_doc(m, provider) for m in doc["models"]]
        provider._models = models
        return provider

    @strawberry.field(
        description="Its models (those with `status` only, when given). Scope models.read."
    )
    async def models(self, info: Info, status: ModelStatus | None = None) -> list[LlmModel]:
        if self._models is not None:
            return [m for m in self._models if status is None or m.status == status]
        wanted = STATUSES[status] if status is not None else None
        views = await loaders.models(info, wanted).load(_uuid(self.id))
        return [LlmModel.of(v, self) for v in views]

    @strawberry.field(
        description="Its calls' totals from `since` to before `until`, one per currency (a"
        " member's: their own calls). Scope registry.read."
    )
    async def usage(
        self,
        info: Info,
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
    ) -> list[UsageTotal]:
        totals = await loaders.usage(info, "provider", since, until).load(_uuid(self.id))
        return [UsageTotal.of(t) for t in totals]


# the provider fields the overview's documents hold as they are answered (the rest: ids
# and times to convert, and who created or changed it, which GraphQL does not show)
_CONVERTED = {"id", "owner_user_id", "created_at", "updated_at", "created_by", "updated_by"}
_PLAIN_PROVIDER_FIELDS = tuple(f for f in ProviderView.model_fields if f not in _CONVERTED)

__all__ = ["LlmModel", "LlmProvider", "ModelPrice", "ModelStatus", "ProviderOwner"]
