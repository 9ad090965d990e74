"""The model catalog: models belong to a provider, carry capabilities and limits, and move
ACTIVE -> DEPRECATED (and back). Deprecated models stay queryable with their price history
but cannot become a default. At most one system default model, which must be ACTIVE and
served by a system provider. Prices live in :mod:`modelyard.registry.prices`.
"""

from __future__ import annotations

import builtins
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlalchemy import Select, String, cast, func, select

from modelyard.db.tables import Model, Provider
from modelyard.errors import Conflict, ValidationFailed, check
from modelyard.registry.actors import Actor
from modelyard.registry.common import Page, PageRequest, Spec
from modelyard.registry.fields import PositiveInt32
from modelyard.registry.lookup import model_manageable, model_visible, provider_manageable
from modelyard.registry.model_views import CAPABILITIES, ModelView, snapshot, view_of
from modelyard.registry.prices import PriceSpec, append_price, current_prices
from modelyard.registry.tx import Database, Tx


def _capabilities(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = sorted(set(value) - set(CAPABILITIES))
    if unknown:
        raise ValueError(f"unknown capabilities {unknown}; valid: {list(CAPABILITIES)}")
    return [c for c in CAPABILITIES if c in value]


class ModelFields(Spec):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    context_window: PositiveInt32 | None = None
    max_output_tokens: PositiveInt32 | None = None
    capabilities: list[str] | None = None
    fallbacks: list[str] | None = Field(
        default=None,
        max_length=10,
        description="models to try, in order, when this one fails: provider-name/model-id",
    )

    @field_validator("fallbacks")
    @classmethod
    def _refs(cls, value: list[str] | None) -> list[str] | None:
        for ref in value or ():
            provider, sep, model = ref.partition("/")
            if not (sep and provider and model):
                raise ValueError(f"{ref!r} is not provider-name/model-id")
        return value

    @field_validator("capabilities")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        return _capabilities(value)


class ModelCreate(ModelFields):
    provider_id: uuid.UUID
    model_id: str = Field(min_length=1, max_length=200)
    price: PriceSpec | None = None


class ModelUpdate(ModelFields):
    not_null = frozenset({"display_name", "capabilities", "fallbacks"})


class ModelFilter(Spec):
    provider_id: uuid.UUID | None = None
    status: Literal["ACTIVE", "DEPRECATED"] | None = None
    capability: str | None = None


class Models:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(
        self, actor: Actor, page: PageRequest, filters: ModelFilter | None = None
    ) -> Page[ModelView]:
        query = _visible(actor, filters or ModelFilter())
        async with self.db.read(actor) as tx:
            total = await tx.session.scalar(select(func.count()).select_from(query.subquery()))
            rows = (
                await tx.session.scalars(
                    query.order_by(Model.status, Model.model_id, Model.id)
                    .limit(page.limit)
                    .offset(page.offset)
                )
            ).all()
            prices = await current_prices(tx, [m.id for m in rows])
            items = [view_of(m, prices.get(m.id)) for m in rows]
        return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)

    async def for_providers(
        self,
        actor: Actor,
        provider_ids: Sequence[uuid.UUID],
        status: Literal["ACTIVE", "DEPRECATED"] | None = None,
    ) -> builtins.list[builtins.list[ModelView]]:
        """Each provider's models (as :meth:`list` orders them, with their current price),
        in ``provider_ids``' order; a provider ``actor`` may not see has none. Two queries
        however many providers."""
        query = _visible(actor, ModelFilter(status=status))
        found: dict[uuid.UUID, builtins.list[ModelView]] = defaultdict(list)
        async with self.db.read(actor) as tx:
            rows = (
                await tx.session.scalars(
                    query.where(Model.provider_id.in_(set(provider_ids))).order_by(
                        Model.status, Model.model_id, Model.id
                    )
                )
            ).all()
            prices = await current_prices(tx, [m.id for m in rows])
            for m in rows:
                found[m.provider_id].append(view_of(m, prices.get(m.id)))
        return [found.get(pid, []) for pid in provider_ids]

    async def counts(self, actor: Actor, provider_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """How many models each provider has (those ``actor`` may see; 0 for the others), in
        one query however many providers."""
        query = (
            _visible(actor, ModelFilter())
            .where(Model.provider_id.in_(set(provider_ids)))
            .with_only_columns(Model.provider_id, func.count())
            .group_by(Model.provider_id)
        )
        async with self.db.read(actor) as tx:
            found = {pid: int(n) for pid, n in await tx.session.execute(query)}
        return {pid: found.get(pid, 0) for pid in provider_ids}

    async def get(self, actor: Actor, model_id: uuid.UUID | str) -> ModelView:
        async with self.db.read(actor) as tx:
            model, _ = await model_visible(tx, model_id)
            prices = await current_prices(tx, [model.id])
            return view_of(model, prices.get(model.id))

    async def create(self, actor: Actor, raw: Any) -> ModelView:
        spec: ModelCreate = check(ModelCreate, raw)
        async with self.db.write(actor) as tx:
            provider = await provider_manageable(tx, spec.provider_id)
            taken = await tx.session.scalar(
                select(Model.id).where(
                    Model.provider_id == provider.id, Model.model_id == spec.model_id
                )
            )
            if taken is not None:
                raise Conflict(
                    f"provider {provider.name!r} already has model {spec.model_id!r}",
                    code="NAME_TAKEN",
                    details={"model_id": spec.model_id},
                )
            model = Model(
                id=uuid.uuid4(),
                provider_id=provider.id,
                model_id=spec.model_id,
                display_name=spec.display_name or spec.model_id,
                context_window=spec.context_window,
                max_output_tokens=spec.max_output_tokens,
                capabilities=spec.capabilities or ["text"],
                fallbacks=spec.fallbacks or [],
                status="ACTIVE",
                is_default=False,
                config_version=1,
                created_by=actor.user_id,
                updated_by=actor.user_id,
                created_at=tx.now,
                updated_at=tx.now,
            )
            tx.session.add(model)
            await tx.session.flush()
            await tx.record(
                "model.create", "model", model.id, after=snapshot(model), config_version=1
            )
            price = await append_price(tx, model, spec.price) if spec.price else None
            return view_of(model, price)

    async def update(self, actor: Actor, model_id: uuid.UUID | str, raw: Any) -> ModelView:
        spec: ModelUpdate = check(ModelUpdate, raw)
        changes = spec.model_dump(exclude_unset=True)
        for key in ("display_name", "capabilities", "fallbacks"):
            if key in changes and changes[key] is None:
                raise ValidationFailed.at(key, "must not be null")
        async with self.db.write(actor) as tx:
            model, _ = await model_manageable(tx, model_id)
            return await self._changed(tx, model, "model.update", changes)

    async def set_status(
        self, actor: Actor, model_id: uuid.UUID | str, status: Literal["ACTIVE", "DEPRECATED"]
    ) -> ModelView:
        async with self.db.write(actor) as tx:
            model, _ = await model_manageable(tx, model_id)
            if model.status == status:
                raise Conflict(
                    f"model {model.model_id!r} is already {status}", code="MODEL_STATUS_UNCHANGED"
                )
            changes: dict[str, Any] = {"status": status}
            if status == "DEPRECATED":
                changes["is_default"] = False
            action = "model.deprecate" if status == "DEPRECATED" else "model.reactivate"
            return await self._changed(tx, model, action, changes)

    async def set_default(self, actor: Actor, model_id: uuid.UUID | str) -> ModelView:
        actor.require_admin("set the system default model")
        async with self.db.write(actor) as tx:
            model, provider = await model_visible(tx, model_id)
            if provider.owner_user_id is not None:
                raise Conflict(
                    "the system default model must belong to a system provider",
                    code="PROVIDER_NOT_SYSTEM",
                )
            if model.status != "ACTIVE":
                raise Conflict(
                    f"model {model.model_id!r} is deprecated and cannot be a default",
                    code="MODEL_DEPRECATED",
                )
            if model.is_default:
                return await self.get_in(tx, model)
            previous = await tx.session.scalar(select(Model).where(Model.is_default))
            if previous is not None:
                await self._changed(tx, previous, "model.unset_default", {"is_default": False})
            return await self._changed(tx, model, "model.set_default", {"is_default": True})

    async def delete(self, actor: Actor, model_id: uuid.UUID | str) -> None:
        async with self.db.write(actor) as tx:
            model, _ = await model_manageable(tx, model_id)
            before = snapshot(model)
            await tx.session.delete(model)
            await tx.record(
                "model.delete",
                "model",
                model.id,
                before=before,
                config_version=model.config_version,
            )

    async def get_in(self, tx: Tx, model: Model) -> ModelView:
        prices = await current_prices(tx, [model.id])
        return view_of(model, prices.get(model.id))

    async def _changed(
        self, tx: Tx, model: Model, action: str, changes: dict[str, Any]
    ) -> ModelView:
        before = snapshot(model)
        for field, value in changes.items():
            setattr(model, field, value)
        model.config_version += 1
        model.updated_at = tx.now
        model.updated_by = tx.actor.user_id
        await tx.session.flush()
        await tx.record(
            action,
            "model",
            model.id,
            before=before,
            after=snapshot(model),
            config_version=model.config_version,
        )
        return await self.get_in(tx, model)


def _visible(actor: Actor, filters: ModelFilter) -> Select[Model]:
    query = select(Model).join(Provider, Provider.id == Model.provider_id)
    if not actor.sees_everyones:
        query = query.where(
            (Provider.owner_user_id.is_(None)) | (Provider.owner_user_id == actor.user_id)
        )
    if filters.provider_id is not None:
        query = query.where(Model.provider_id == filters.provider_id)
    if filters.status is not None:
        query = query.where(Model.status == filters.status)
    if filters.capability is not None:
        if filters.capability not in CAPABILITIES:
            raise ValidationFailed.at(
                "capability",
                f"{filters.capability!r} is not a capability; valid: {list(CAPABILITIES)}",
            )
        # capabilities are a JSON array of known words: match one quoted element, the same
        # way on SQLite (JSON text) and PostgreSQL (JSONB cast to text)
        quoted = f'"{filters.capability}"'
        query = query.where(cast(Model.capabilities, String).contains(quoted, autoescape=True))
    return query
