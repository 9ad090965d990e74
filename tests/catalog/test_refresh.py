"""Re-seeding fills in and refreshes catalog models' capabilities and limits, audited, and
never overwrites what an admin set by hand (``modelyard.catalog.refresh``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from modelyard.catalog import refresh
from modelyard.catalog import seed as catalog
from modelyard.catalog.data import CatalogModel, CatalogProvider, load_catalog
from modelyard.catalog.seed import SeedReport, seed_catalog
from modelyard.registry.actors import Actor
from modelyard.registry.audit_log import AuditFilter
from modelyard.registry.common import PageRequest
from modelyard.registry.lookup import ProviderFilter
from modelyard.registry.model_views import ModelView
from modelyard.registry.models import ModelFilter
from modelyard.services import Registry

ALL = PageRequest(limit=500)


def _older(entries: tuple[CatalogProvider, ...]) -> tuple[CatalogProvider, ...]:
    """The catalog as catalogs before models.dev made it: genai-prices alone."""

    def older(model: CatalogModel) -> CatalogModel:
        return dataclasses.replace(
            model,
            capabilities=model.legacy.capabilities,
            context_window=model.legacy.context_window,
            max_output_tokens=model.legacy.max_output_tokens,
        )

    return tuple(dataclasses.replace(p, models=tuple(map(older, p.models))) for p in entries)


def _changed(
    entries: tuple[CatalogProvider, ...], model_id: str, **values: Any
) -> tuple[CatalogProvider, ...]:
    """``entries`` with one model's values changed, as a newer catalog release would."""
    return tuple(
        dataclasses.replace(
            p,
            models=tuple(
                dataclasses.replace(m, **values) if m.model_id == model_id else m for m in p.models
            ),
        )
        for p in entries
    )


async def _models(registry: Registry, admin: Actor) -> dict[str, ModelView]:
    """System models by ``provider/model_id``."""
    providers = await registry.providers.list(admin, ALL, ProviderFilter(owner="system"))
    names = {p.id: p.name for p in providers.items}
    page = await registry.models.list(admin, ALL, ModelFilter())
    return {f"{names[m.provider_id]}/{m.model_id}": m for m in page.items if m.provider_id in names}


def _values(model: ModelView) -> tuple[list[str], int | None, int | None]:
    return model.capabilities, model.context_window, model.max_output_tokens


def _catalog_values(item: CatalogModel) -> tuple[list[str], int | None, int | None]:
    return list(item.capabilities), item.context_window, item.max_output_tokens


def _item(entries: tuple[CatalogProvider, ...], provider: str, model_id: str) -> CatalogModel:
    [entry] = [p for p in entries if p.name == provider]
    [item] = [m for m in entry.models if m.model_id == model_id]
    return item


async def _audit_total(registry: Registry, admin: Actor) -> int:
    return (await registry.audit.list(admin, PageRequest(limit=1))).total


async def test_a_database_seeded_by_an_older_catalog_is_filled_in_audited_once(
    registry: Registry, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = load_catalog()
    monkeypatch.setattr(catalog, "load_catalog", lambda: _older(entries))
    await seed_catalog(registry, admin)
    gpt4o = (await _models(registry, admin))["openai/gpt-4o"]
    assert "vision" not in gpt4o.capabilities
    assert gpt4o.max_output_tokens is None
    monkeypatch.setattr(catalog, "load_catalog", lambda: entries)

    differing = sum(
        _catalog_values(m) != _catalog_values(o)
        for p, q in zip(entries, _older(entries), strict=True)
        for m, o in zip(p.models, q.models, strict=True)
    )
    assert differing > 0
    assert await seed_catalog(registry, admin) == SeedReport(0, 0, 0, differing)

    stored = await _models(registry, admin)
    for entry in entries:
        for item in entry.models:
            assert _values(stored[f"{entry.name}/{item.model_id}"]) == _catalog_values(item)
    gpt4o = stored["openai/gpt-4o"]
    assert {"vision", "function_calling", "json_mode"} <= set(gpt4o.capabilities)
    assert gpt4o.context_window
    assert gpt4o.max_output_tokens
    updates = await registry.audit.list(
        admin, ALL, AuditFilter(entity_type="model", entity_id=str(gpt4o.id), action="model.update")
    )
    [update] = updates.items
    assert "vision" not in update.before["capabilities"]
    assert "vision" in update.after["capabilities"]
    assert update.actor_label == admin.label
    markers = await registry.audit.list(admin, ALL, AuditFilter(action=refresh.ACTION))
    oldest_first = reversed(markers.items)
    written = {k: v for e in oldest_first for k, v in e.after["models"].items()}
    assert written[str(gpt4o.id)]["capabilities"] == gpt4o.capabilities
    assert (await registry.audit.verify(admin)).ok

    before = await _audit_total(registry, admin)
    generation = await registry.generation()
    assert await seed_catalog(registry, admin) == SeedReport(0, 0, 0, 0)
    assert await _audit_total(registry, admin) == before
    assert await registry.generation() == generation


async def test_an_admins_edits_to_an_older_seed_are_kept_and_the_rest_filled_in(
    registry: Registry, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = load_catalog()
    monkeypatch.setattr(catalog, "load_catalog", lambda: _older(entries))
    await seed_catalog(registry, admin)
    old = await _models(registry, admin)
    hand = ["text", "vision", "streaming"]
    await registry.models.update(admin, old["openai/gpt-4o"].id, {"capabilities": hand})
    await registry.models.update(admin, old["openai/gpt-4.1"].id, {"max_output_tokens": 1000})
    monkeypatch.setattr(catalog, "load_catalog", lambda: entries)

    await seed_catalog(registry, admin)
    stored = await _models(registry, admin)
    gpt4o, gpt41 = _item(entries, "openai", "gpt-4o"), _item(entries, "openai", "gpt-4.1")
    assert _values(stored["openai/gpt-4o"]) == (hand, gpt4o.context_window, gpt4o.max_output_tokens)
    assert _values(stored["openai/gpt-4.1"]) == (
        list(gpt41.capabilities),
        gpt41.context_window,
        1000,
    )
    assert gpt41.context_window != gpt41.legacy.context_window  # refreshed, not only filled

    before = await _audit_total(registry, admin)
    assert await seed_catalog(registry, admin) == SeedReport(0, 0, 0, 0)
    assert await _audit_total(registry, admin) == before


async def test_a_newer_catalog_refreshes_what_it_wrote_and_keeps_an_admins_edits(
    registry: Registry, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = load_catalog()
    await seed_catalog(registry, admin)
    first = await _models(registry, admin)
    gpt4o, mini = first["openai/gpt-4o"], first["openai/gpt-4o-mini"]
    hand = ["text", "function_calling", "streaming"]
    await registry.models.update(admin, gpt4o.id, {"capabilities": hand, "max_output_tokens": None})
    item = _item(entries, "openai", "gpt-4o")
    newer = _changed(
        entries,
        "gpt-4o",
        capabilities=(*item.capabilities, "code"),
        context_window=256_000,
        max_output_tokens=32_768,
    )
    newer = _changed(newer, "gpt-4o-mini", max_output_tokens=65_536)
    monkeypatch.setattr(catalog, "load_catalog", lambda: newer)

    assert await seed_catalog(registry, admin) == SeedReport(0, 0, 0, 2)
    stored = await _models(registry, admin)
    assert _values(stored["openai/gpt-4o"]) == (hand, 256_000, None)  # emptied by hand: stays
    assert stored["openai/gpt-4o-mini"].max_output_tokens == 65_536
    assert stored["openai/gpt-4o-mini"].capabilities == mini.capabilities

    monkeypatch.setattr(catalog, "load_catalog", lambda: entries)
    await seed_catalog(registry, admin)  # the catalog goes back: what it wrote follows it
    stored = await _models(registry, admin)
    assert _values(stored["openai/gpt-4o"]) == (hand, item.context_window, None)
    assert _values(stored["openai/gpt-4o-mini"]) == _values(mini)


async def test_a_value_the_catalog_does_not_know_is_never_emptied(
    registry: Registry, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = load_catalog()
    await seed_catalog(registry, admin)
    before = (await _models(registry, admin))["openai/gpt-4o"]
    unknown = _changed(entries, "gpt-4o", context_window=None, max_output_tokens=None)
    monkeypatch.setattr(catalog, "load_catalog", lambda: unknown)
    assert await seed_catalog(registry, admin) == SeedReport(0, 0, 0, 0)
    assert _values((await _models(registry, admin))["openai/gpt-4o"]) == _values(before)
