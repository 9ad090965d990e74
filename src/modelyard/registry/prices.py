"""Effective-dated model prices. A change appends a row; nothing is overwritten, so "the price
of model M at time T" (:func:`price_at`) is exact for any past T. Money is Decimal throughout.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from pydantic import Field, field_validator
from sqlalchemy import func, select

from modelyard.db.tables import Model, ModelPrice, Provider
from modelyard.db.types import canonical
from modelyard.errors import Conflict, NotFound, ValidationFailed, check
from modelyard.registry.actors import Actor
from modelyard.registry.common import Spec, jsonable
from modelyard.registry.fields import Instant
from modelyard.registry.lookup import model_manageable, model_visible
from modelyard.registry.model_views import PriceView
from modelyard.registry.tx import Database, Tx

MAX_PRICE = Decimal("1000000")


class PriceSpec(Spec):
    input_per_mtok: Decimal = Field(ge=0, le=MAX_PRICE, decimal_places=10)
    output_per_mtok: Decimal = Field(ge=0, le=MAX_PRICE, decimal_places=10)
    cached_input_per_mtok: Decimal | None = Field(
        default=None, ge=0, le=MAX_PRICE, decimal_places=10
    )
    cache_write_per_mtok: Decimal | None = Field(
        default=None, ge=0, le=MAX_PRICE, decimal_places=10
    )
    credits_per_1k: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE, decimal_places=10)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    effective_from: Instant | None = None

    @field_validator(
        "input_per_mtok",
        "output_per_mtok",
        "cached_input_per_mtok",
        "cache_write_per_mtok",
        "credits_per_1k",
        mode="before",
    )
    @classmethod
    def _no_floats(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError('give prices as strings or integers (e.g. "2.50"), not floats')
        return value

    @field_validator(
        "input_per_mtok",
        "output_per_mtok",
        "cached_input_per_mtok",
        "cache_write_per_mtok",
        "credits_per_1k",
    )
    @classmethod
    def _canonical(cls, value: Decimal | None) -> Decimal | None:
        """The one form the database reads back ("2.50" -> 2.5), so a price reads the same
        when it is created as on every later read."""
        return None if value is None else canonical(value)

    @field_validator("effective_from")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a timezone (e.g. 2026-01-01T00:00:00Z)")
        return value


class Prices:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def history(self, actor: Actor, model_id: uuid.UUID | str) -> list[PriceView]:
        async with self.db.read(actor) as tx:
            model, _ = await model_visible(tx, model_id)
            rows = await tx.session.scalars(
                select(ModelPrice)
                .where(ModelPrice.model_id == model.id)
                .order_by(ModelPrice.effective_from)
            )
            return [PriceView.model_validate(p) for p in rows]

    async def histories(
        self, actor: Actor, model_ids: Sequence[uuid.UUID]
    ) -> list[list[PriceView]]:
        """Each model's price history (oldest first) in ``model_ids``' order, in one query;
        a model ``actor`` may not see has none."""
        query = (
            select(ModelPrice)
            .join(Model, Model.id == ModelPrice.model_id)
            .join(Provider, Provider.id == Model.provider_id)
            .where(ModelPrice.model_id.in_(set(model_ids)))
            .order_by(ModelPrice.model_id, ModelPrice.effective_from)
        )
        if not actor.sees_everyones:
            query = query.where(
                Provider.owner_user_id.is_(None) | (Provider.owner_user_id == actor.user_id)
            )
        found: dict[uuid.UUID, list[PriceView]] = defaultdict(list)
        async with self.db.read(actor) as tx:
            for price in await tx.session.scalars(query):
                found[price.model_id].append(PriceView.model_validate(price))
        return [found.get(mid, []) for mid in model_ids]

    async def set(self, actor: Actor, model_id: uuid.UUID | str, raw: object) -> PriceView:
        spec: PriceSpec = check(PriceSpec, raw)
        async with self.db.write(actor) as tx:
            model, _ = await model_manageable(tx, model_id)
            return PriceView.model_validate(await append_price(tx, model, spec))

    async def at(self, actor: Actor, model_id: uuid.UUID | str, when: datetime) -> PriceView:
        async with self.db.read(actor) as tx:
            model, _ = await model_visible(tx, model_id)
            price = await price_at(tx, model.id, when)
            if price is None:
                raise NotFound(
                    f"model {model.model_id!r} had no price at {when.isoformat()}",
                    code="PRICE_NOT_FOUND",
                )
            return PriceView.model_validate(price)


async def price_at(tx: Tx, model_id: uuid.UUID, when: datetime) -> ModelPrice | None:
    """The price in force for ``model_id`` at ``when``: the latest row not after it."""
    if when.tzinfo is None:
        raise ValidationFailed.at("at", "must carry a timezone")
    return await tx.session.scalar(
        select(ModelPrice)
        .where(ModelPrice.model_id == model_id, ModelPrice.effective_from <= when)
        .order_by(ModelPrice.effective_from.desc())
        .limit(1)
    )


async def current_prices(tx: Tx, model_ids: list[uuid.UUID]) -> dict[uuid.UUID, ModelPrice]:
    if not model_ids:
        return {}
    latest = (
        select(ModelPrice.model_id, func.max(ModelPrice.effective_from).label("at"))
        .where(ModelPrice.model_id.in_(model_ids), ModelPrice.effective_from <= tx.now)
        .group_by(ModelPrice.model_id)
        .subquery()
    )
    rows = await tx.session.scalars(
        select(ModelPrice).join(
            latest,
            (ModelPrice.model_id == latest.c.model_id) & (ModelPrice.effective_from == latest.c.at),
        )
    )
    return {p.model_id: p for p in rows}


async def append_price(tx: Tx, model: Model, spec: PriceSpec) -> ModelPrice:
    effective = spec.effective_from or tx.now
    clash = await tx.session.scalar(
        select(ModelPrice.id).where(
            ModelPrice.model_id == model.id, ModelPrice.effective_from == effective
        )
    )
    if clash is not None:
        raise Conflict(
            f"model {model.model_id!r} already has a price effective at {effective.isoformat()}",
            code="PRICE_EXISTS",
        )
    price = ModelPrice(
        id=uuid.uuid4(),
        model_id=model.id,
        input_per_mtok=spec.input_per_mtok,
        output_per_mtok=spec.output_per_mtok,
        cached_input_per_mtok=spec.cached_input_per_mtok,
        cache_write_per_mtok=spec.cache_write_per_mtok,
        credits_per_1k=spec.credits_per_1k,
        currency=spec.currency,
        effective_from=effective,
        created_by=tx.actor.user_id,
        created_at=tx.now,
    )
    tx.session.add(price)
    await tx.session.flush()
    after = jsonable(PriceView.model_validate(price).model_dump(exclude={"created_at"}))
    await tx.record(
        "model.price_change", "model", model.id, after=after, config_version=model.config_version
    )
    return price
