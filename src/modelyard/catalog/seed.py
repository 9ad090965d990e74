"""Seeding the registry with the built-in catalog (:mod:`modelyard.catalog.data`).

Every row goes through the registry services, so it is validated and audited like any other
change. The seed is idempotent: system providers are matched by name and models by their
upstream ``model_id``; what is missing is created, a model whose current price differs from
the catalog gets a new price row (history is never rewritten), and a model's capabilities,
context window and max output are filled in or refreshed where they are still the catalog's,
never where an admin set them by hand (:mod:`modelyard.catalog.refresh`); everything else
that exists is left as it is. A second run against an unchanged catalog reports zeros and
writes nothing.

Hosted providers need an API key that the catalog cannot supply, so they are created
disabled, as seed 004 does ("disabled until configured"); an admin sets the key and then
enables them. Local runtimes (Ollama) need none and are created enabled.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from modelyard.catalog import refresh
from modelyard.catalog.data import CatalogModel, CatalogProvider, load_catalog
from modelyard.catalog.presets import PRESETS, preset
from modelyard.catalog.refresh import Stored
from modelyard.db.tables import Model, ModelPrice, Provider
from modelyard.errors import ValidationFailed
from modelyard.kinds.base import kind_of, typed_config
from modelyard.registry.actors import Actor
from modelyard.registry.prices import current_prices
from modelyard.services import Registry

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class SeedReport:
    providers_created: int
    models_created: int
    prices_added: int
    models_updated: int = 0  # capabilities, context window or max output filled in


@dataclass
class _Existing:
    provider_id: uuid.UUID
    models: dict[str, Stored]
    prices: dict[uuid.UUID, ModelPrice]


@dataclass
class _Counts:
    providers: int = 0
    models: int = 0
    prices: int = 0
    updated: int = 0


async def seed_catalog(registry: Registry, actor: Actor) -> SeedReport:
    """Load the built-in catalog as system providers; safe to run any number of times."""
    actor.require_admin("seed the catalog")
    existing = await _existing(registry, actor)
    async with registry.db.read(actor) as tx:
        last = await refresh.written(tx)
    counts = _Counts()
    for entry in load_catalog():
        found = existing.get(entry.name)
        if found is None:
            created = await registry.providers.create(actor, _provider_spec(entry))
            found = _Existing(created.id, {}, {})
            counts.providers += 1
        wrote: dict[uuid.UUID, dict[str, Any]] = {}
        for item in entry.models:
            await _seed_model(registry, actor, found, item, last, wrote, counts)
        if wrote:
            async with registry.db.write(actor) as tx:
                await refresh.marker(tx, entry.name, wrote)
    return SeedReport(counts.providers, counts.models, counts.prices, counts.updated)


async def _seed_model(
    registry: Registry,
    actor: Actor,
    found: _Existing,
    item: CatalogModel,
    last: dict[uuid.UUID, dict[str, Any]],
    wrote: dict[uuid.UUID, dict[str, Any]],
    counts: _Counts,
) -> None:
    """Create ``item``, or bring its price and (where still the catalog's) its capabilities
    and limits up to date; what was written to capabilities and limits goes in ``wrote``."""
    stored = found.models.get(item.model_id)
    if stored is None:
        created = await registry.models.create(actor, _model_spec(found.provider_id, item))
        wrote[created.id] = refresh.catalog_values(item)
        counts.models += 1
        counts.prices += 1
        return
    if not _same_price(found.prices.get(stored.id), item):
        await registry.prices.set(actor, stored.id, _price_spec(item))
        counts.prices += 1
    changes = refresh.changes(stored, item, last.get(stored.id))
    if changes:
        await registry.models.update(actor, stored.id, changes)
        wrote[stored.id] = refresh.now_ours(stored, item, changes)
        counts.updated += 1


async def seed_preset(registry: Registry, actor: Actor, name: str) -> SeedReport:
    """Create a preset's providers that are missing (by name), disabled until a key is set;
    providers of those names that exist are left as they are."""
    actor.require_admin("seed a preset")
    if name not in PRESETS:
        raise ValidationFailed.at("preset", f"{name!r} is not a preset; known: {sorted(PRESETS)}")
    existing = await _existing(registry, actor)
    created = 0
    for entry in preset(name):
        if entry["name"] not in existing:
            spec = entry | {"owner": "system", "enabled": False}
            await registry.providers.create(actor, spec)
            created += 1
    return SeedReport(providers_created=created, models_created=0, prices_added=0)


def needs_api_key(entry: CatalogProvider) -> bool:
    """A catalog provider needs a key if its kind says so or it is hosted (not on this host)."""
    kind = kind_of(entry.kind)
    config = typed_config(kind, kind.catalog_config(entry.name))
    return kind.requires_key(config) or urlsplit(entry.base_url).hostname not in LOCAL_HOSTS


async def _existing(registry: Registry, actor: Actor) -> dict[str, _Existing]:
    """System providers by name, with their models by upstream id and current prices."""
    async with registry.db.read(actor) as tx:
        found = {
            name: _Existing(pid, {}, {})
            for pid, name in await tx.session.execute(
                select(Provider.id, Provider.name).where(Provider.owner_user_id.is_(None))
            )
        }
        by_id = {e.provider_id: e for e in found.values()}
        rows = await tx.session.scalars(
            select(Model).where(
                Model.provider_id.in_(select(Provider.id).where(Provider.owner_user_id.is_(None)))
            )
        )
        for row in rows:
            by_id[row.provider_id].models[row.model_id] = Stored(
                row.id, list(row.capabilities), row.context_window, row.max_output_tokens
            )
        ids = [m.id for e in found.values() for m in e.models.values()]
        prices = await current_prices(tx, ids)
    for entry in found.values():
        entry.prices = {m.id: prices[m.id] for m in entry.models.values() if m.id in prices}
    return found


def _provider_spec(entry: CatalogProvider) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "owner": "system",
        "name": entry.name,
        "kind": entry.kind,
        "display_name": entry.display_name,
        "description": entry.description,
        "base_url": entry.base_url,
        "enabled": not needs_api_key(entry),
    }
    config = kind_of(entry.kind).catalog_config(entry.name)
    if config:
        spec["config"] = config
    return spec


def _model_spec(provider_id: uuid.UUID, item: CatalogModel) -> dict[str, Any]:
    return {
        "provider_id": provider_id,
        "model_id": item.model_id,
        "display_name": item.display_name,
        "context_window": item.context_window,
        "max_output_tokens": item.max_output_tokens,
        "capabilities": list(item.capabilities),
        "price": _price_spec(item),
    }


def _price_spec(item: CatalogModel) -> dict[str, Decimal | None]:
    return {
        "input_per_mtok": item.input_per_mtok,
        "output_per_mtok": item.output_per_mtok,
        "cached_input_per_mtok": item.cached_input_per_mtok,
        "cache_write_per_mtok": item.cache_write_per_mtok,
    }


def _same_price(current: ModelPrice | None, item: CatalogModel) -> bool:
    return (
        current is not None
        and current.currency == "USD"
        and current.input_per_mtok == item.input_per_mtok
        and current.output_per_mtok == item.output_per_mtok
        and current.cached_input_per_mtok == item.cached_input_per_mtok
        and current.cache_write_per_mtok == item.cache_write_per_mtok
    )
