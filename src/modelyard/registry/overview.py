"""The admin overview (seed 001's "list providers with their models"): every provider the
actor may see, each with its models and their current prices.

It costs two SELECTs whatever the size of the registry: the providers, then their models
outer-joined to each model's latest price in force. Both filter with the same visibility
subquery instead of an IN list of ids, so no statement grows with the number of rows and
nothing is loaded per provider (no N+1). Models and prices are read as plain columns, not ORM
objects: at 2,000 models that halves the time (see docs/benchmarks.md).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from modelyard.db.tables import Model, ModelPrice, Provider
from modelyard.registry.actors import Actor
from modelyard.registry.lookup import ProviderFilter, visible_query
from modelyard.registry.model_views import ModelView, PriceView
from modelyard.registry.provider_views import ProviderView, view
from modelyard.registry.tx import Database

MODEL_FIELDS = tuple(f for f in ModelView.model_fields if f != "price")
PRICE_FIELDS = tuple(PriceView.model_fields)


class ProviderOverview(ProviderView):
    models: list[ModelView]


class Overview:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_with_models(
        self, actor: Actor, filters: ProviderFilter | None = None
    ) -> list[ProviderOverview]:
        providers_query = visible_query(actor, filters or ProviderFilter())
        async with self.db.read(actor) as tx:
            providers = (
                await tx.session.scalars(
                    providers_query.order_by(
                        Provider.owner_user_id.is_not(None), Provider.name, Provider.id
                    )
                )
            ).all()
            visible_ids = providers_query.with_only_columns(Provider.id)
            rows = (await tx.session.execute(_models_with_prices(visible_ids, tx.now))).all()
        models: dict[uuid.UUID, list[ModelView]] = defaultdict(list)
        for row in rows:
            model = _model_view(row._mapping)
            models[model.provider_id].append(model)
        return [
            ProviderOverview(**dict(view(p, actor)), models=models.get(p.id, [])) for p in providers
        ]


def _model_view(row: Mapping[str, Any]) -> ModelView:
    price = None
    if row["price_id"] is not None:
        price = PriceView.model_validate({f: row[f"price_{f}"] for f in PRICE_FIELDS})
    return ModelView.model_validate({f: row[f] for f in MODEL_FIELDS} | {"price": price})


def _models_with_prices(provider_ids: Select[uuid.UUID], now: datetime) -> Select[Any]:
    latest = (
        select(ModelPrice.model_id, func.max(ModelPrice.effective_from).label("at"))
        .where(ModelPrice.effective_from <= now)
        .group_by(ModelPrice.model_id)
        .subquery()
    )
    columns = [getattr(Model, f) for f in MODEL_FIELDS]
    columns += [getattr(ModelPrice, f).label(f"price_{f}") for f in PRICE_FIELDS]
    return (
        select(*columns)
        .select_from(Model)
        .outerjoin(latest, latest.c.model_id == Model.id)
        .outerjoin(
            ModelPrice,
            (ModelPrice.model_id == latest.c.model_id) & (ModelPrice.effective_from == latest.c.at),
        )
        .where(Model.provider_id.in_(provider_ids))
        .order_by(Model.provider_id, Model.status, Model.model_id, Model.id)
    )
