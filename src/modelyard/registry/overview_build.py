"""Building the overview's snapshot: every provider with its models and their prices in
force, as JSON-native documents.

The first snapshot is read whole: providers; models outer-joined to their price in force;
when the next future-dated price takes effect. After a change, a snapshot is built from
the one before: one light query per table says, for every row, its *mark* (id,
``config_version`` and ``updated_at``, which every change of a provider or a model moves;
for a model also how many prices it has and when the newest was written, since prices are
only ever appended), and only the rows whose mark moved are read again and turned into
documents; the others are the previous snapshot's, untouched. A snapshot past its
``valid_until`` (a price came into force) or one where most rows moved is read whole
again. ``tests/registry/test_overview_incremental.py`` checks that after every kind of
change the snapshot built this way equals one read whole."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.db.tables import Model, ModelPrice, Provider
from modelyard.registry.model_views import ModelView, PriceView
from modelyard.registry.provider_views import view

MODEL_FIELDS = tuple(f for f in ModelView.model_fields if f != "price")
PRICE_FIELDS = tuple(PriceView.model_fields)
PRICE_COLUMNS = tuple(f for f in PRICE_FIELDS if f != "model_id")  # the model's own id
_CHUNK = 500  # ids per IN (...) when rows are read again

Doc = dict[str, Any]
Mark = tuple[Hashable, ...]


@dataclass
class Snapshot:
    generation: int
    valid_until: datetime | None
    providers: tuple[Doc, ...]
    provider_marks: dict[str, Mark] = field(default_factory=dict)
    model_marks: dict[str, Mark] = field(default_factory=dict)
    _encoded: bytes | None = None

    def encoded(self) -> bytes:
        if self._encoded is None:
            self._encoded = orjson.dumps(self.providers)
        return self._encoded

    def fresh(self, generation: int, now: datetime) -> bool:
        return generation == self.generation and (
            self.valid_until is None or now < self.valid_until
        )


async def build(
    session: AsyncSession, previous: Snapshot | None, generation: int, now: datetime
) -> Snapshot:
    """The snapshot at ``generation``, from ``previous`` where it still holds."""
    provider_marks = await _provider_marks(session)
    model_marks = await _model_marks(session)
    expired = previous is None or (previous.valid_until is not None and now >= previous.valid_until)
    moved_providers: set[str] = set()
    moved_models: set[str] = set()
    if previous is not None and not expired:
        moved_providers = _moved(provider_marks, previous.provider_marks)
        moved_models = _moved(model_marks, previous.model_marks)
        if len(moved_models) > len(model_marks) // 2:  # reading all is cheaper
            previous = None
    else:
        previous = None
    providers = await _providers(session, None if previous is None else moved_providers)
    models = await _models(session, None if previous is None else moved_models, now)
    kept = _kept(previous, provider_marks, model_marks)
    built = _assemble(provider_marks, providers, models, kept)
    valid_until = await session.scalar(
        select(func.min(ModelPrice.effective_from)).where(ModelPrice.effective_from > now)
    )
    return Snapshot(generation, valid_until, built, provider_marks, model_marks)


def _moved(current: dict[str, Mark], before: dict[str, Mark]) -> set[str]:
    return {key for key, mark in current.items() if before.get(key) != mark}


async def _provider_marks(session: AsyncSession) -> dict[str, Mark]:
    """Each provider's mark, in the overview's order (system first, then by name)."""
    rows = await session.execute(
        select(
            type_coerce(Provider.id, String),
            Provider.config_version,
            type_coerce(Provider.updated_at, String),
        ).order_by(Provider.owner_user_id.is_not(None), Provider.name, Provider.id)
    )
    return {_id(row[0]): tuple(row[1:]) for row in rows}


async def _model_marks(session: AsyncSession) -> dict[str, Mark]:
    prices = (
        select(
            ModelPrice.model_id,
            func.count().label("n"),
            func.max(type_coerce(ModelPrice.created_at, String)).label("newest"),
        )
        .group_by(ModelPrice.model_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            type_coerce(Model.id, String),
            Model.config_version,
            type_coerce(Model.updated_at, String),
            prices.c.n,
            prices.c.newest,
        ).outerjoin(prices, prices.c.model_id == Model.id)
    )
    return {_id(row[0]): tuple(row[1:]) for row in rows}


def _id(raw: object) -> str:
    """An id as the documents write it (SQLite stores 32 hex digits, PostgreSQL a uuid)."""
    if isinstance(raw, str) and len(raw) == 32:  # cut, not parsed: 2,000 of them per rebuild
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}".lower()
    return str(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))


def _chunks(ids: Iterable[str]) -> Iterable[list[uuid.UUID]]:
    batch: list[uuid.UUID] = []
    for ident in ids:
        batch.append(uuid.UUID(ident))
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


async def _providers(session: AsyncSession, ids: set[str] | None) -> dict[str, Doc]:
    """The documents of the providers ``ids`` (None: all of them)."""
    queries = (
        [select(Provider)]
        if ids is None
        else [select(Provider).where(Provider.id.in_(batch)) for batch in _chunks(ids)]
    )
    found: dict[str, Doc] = {}
    for query in queries:
        for provider in await session.scalars(query):
            doc = view(provider, None).model_dump(mode="json")
            found[doc["id"]] = doc
    return found


async def _models(session: AsyncSession, ids: set[str] | None, now: datetime) -> dict[str, Doc]:
    """The documents of the models ``ids`` (None: all of them) with their prices at ``now``."""
    every = models_with_prices(now)
    queries = (
        [every] if ids is None else [every.where(Model.id.in_(batch)) for batch in _chunks(ids)]
    )
    found: dict[str, Doc] = {}
    for query in queries:
        for row in (await session.execute(query)).all():
            doc = _model_doc(row._mapping)
            found[doc["id"]] = doc
    return found


@dataclass
class _Kept:
    providers: dict[str, Doc]  # the previous documents of providers whose mark held
    models: dict[str, Doc]  # likewise for models
    models_of: dict[str, list[Doc]]  # a kept provider's previous model list


def _kept(
    previous: Snapshot | None, provider_marks: dict[str, Mark], model_marks: dict[str, Mark]
) -> _Kept:
    kept = _Kept({}, {}, {})
    if previous is None:
        return kept
    for provider in previous.providers:
        pid = provider["id"]
        kept.models_of[pid] = provider["models"]
        if previous.provider_marks.get(pid) == provider_marks.get(pid, ()):
            kept.providers[pid] = provider
        for model in provider["models"]:
            mid = model["id"]
            if previous.model_marks.get(mid) == model_marks.get(mid, ()):
                kept.models[mid] = model
    return kept


def _assemble(
    provider_marks: dict[str, Mark],
    providers: dict[str, Doc],
    models: dict[str, Doc],
    kept: _Kept,
) -> tuple[Doc, ...]:
    by_provider: dict[str, list[Doc]] = defaultdict(list)
    for model in (*kept.models.values(), *models.values()):
        by_provider[model["provider_id"]].append(model)
    built = []
    for pid in provider_marks:  # the overview's order of providers
        mine = sorted(by_provider.get(pid, ()), key=_model_order)
        previous = kept.providers.get(pid)
        if previous is not None and _same(kept.models_of.get(pid, []), mine):
            built.append(previous)  # untouched: the very same document
            continue
        doc = dict(previous) if previous is not None else dict(providers[pid])
        doc["models"] = mine
        built.append(doc)
    return tuple(built)


def _model_order(model: Doc) -> tuple[str, str, str]:
    """Models' order within a provider (kept by Python, not the database's collation, so a
    snapshot read whole and one built from the last agree)."""
    return (model["status"], model["model_id"], model["id"])


def _same(before: list[Doc], after: list[Doc]) -> bool:
    return len(before) == len(after) and all(a is b for a, b in zip(before, after, strict=True))


_TO_JSON: dict[type, Any] = {
    uuid.UUID: str,
    datetime: lambda t: t.isoformat().replace("+00:00", "Z"),  # as pydantic writes UTC times
    Decimal: lambda d: format(d, "f"),
}


def _model_doc(row: Mapping[Any, Any]) -> Doc:
    doc = {f: row[f] for f in MODEL_FIELDS}
    price = None
    if row["price_id"] is not None:
        price = {f: row[f"price_{f}"] for f in PRICE_COLUMNS}
        price["model_id"] = doc["id"]
        _to_json(price)
    _to_json(doc)
    doc["price"] = price
    return doc


def _to_json(doc: Doc) -> None:
    for key, value in doc.items():
        convert = _TO_JSON.get(type(value))
        if convert is None and isinstance(value, uuid.UUID):  # asyncpg's own UUID subclass
            convert = str
        if convert is not None:
            doc[key] = convert(value)


def models_with_prices(now: datetime) -> Any:
    """Models outer-joined to their price in force at ``now``, in the overview's order."""
    latest = (
        select(ModelPrice.model_id, func.max(ModelPrice.effective_from).label("at"))
        .where(ModelPrice.effective_from <= now)
        .group_by(ModelPrice.model_id)
        .subquery()
    )
    columns = [getattr(Model, f) for f in MODEL_FIELDS]
    columns += [getattr(ModelPrice, f).label(f"price_{f}") for f in PRICE_COLUMNS]
    return (
        select(*columns)
        .select_from(Model)
        .outerjoin(latest, latest.c.model_id == Model.id)
        .outerjoin(
            ModelPrice,
            (ModelPrice.model_id == latest.c.model_id) & (ModelPrice.effective_from == latest.c.at),
        )
        .order_by(Model.provider_id, Model.status, Model.model_id, Model.id)
    )


__all__ = ["MODEL_FIELDS", "PRICE_COLUMNS", "PRICE_FIELDS", "Doc", "Snapshot", "build"]
