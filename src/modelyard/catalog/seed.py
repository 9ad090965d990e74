"""Seeding the registry with the built-in catalog (:mod:`modelyard.catalog.data`).

Every row goes through the registry services, so it is validated and audited like any other
change. The seed is idempotent: system providers are matched by name and models by their
upstream ``model_id``; what exists is left as it is, what is missing is created, and a model
whose current price differs from the catalog gets a new price row (history is never
rewritten). A second run against an unchanged catalog reports zeros.

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

from modelyard.catalog.data import CatalogModel, CatalogProvider, load_catalog
from modelyard.db.tables import Model, ModelPrice, Provider
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


@dataclass
class _Existing:
    provider_id: uuid.UUID
    models: dict[str, uuid.UUID]
    prices: dict[uuid.UUID, ModelPrice]


async def seed_catalog(registry: Registry, actor: Actor) -> SeedReport:
    """Load the built-in catalog as system providers; safe to run any number of times."""
    actor.require_admin("seed the catalog")
    existing = await _existing(registry, actor)
    providers = models = prices = 0
    for entry in load_catalog():
        found = existing.get(entry.name)
        if found is None:
            created = await registry.providers.create(actor, _provider_spec(entry))
            found = _Existing(created.id, {}, {})
            providers += 1
        for item in entry.models:
            model_id = found.models.get(item.model_id)
            if model_id is None:
                spec = _model_spec(found.provider_id, item)
                await registry.models.create(actor, spec)
                models += 1
                prices += 1
            elif not _same_price(found.prices.get(model_id), item):
                await registry.prices.set(actor, model_id, _price_spec(item))
                prices += 1
    return SeedReport(providers_created=providers, models_created=models, prices_added=prices)


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
        rows = await tx.session.execute(
            select(Model.id, Model.provider_id, Model.model_id).where(
                Model.provider_id.in_(select(Provider.id).where(Provider.owner_user_id.is_(None)))
            )
        )
        for mid, pid, upstream_id in rows:
            by_id[pid].models[upstream_id] = mid
        prices = await current_prices(tx, [m for e in found.values() for m in e.models.values()])
    for entry in found.values():
        entry.prices = {m: prices[m] for m in entry.models.values() if m in prices}
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
