"""Seeding the built-in catalog: idempotent, audited, keyless hosted providers disabled."""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal

import pytest

from modelyard.catalog import seed as catalog
from modelyard.catalog.data import CatalogProvider, load_catalog
from modelyard.catalog.seed import SeedReport, needs_api_key, seed_catalog
from modelyard.errors import Forbidden, ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.registry.lookup import ProviderFilter
from modelyard.registry.models import ModelFilter
from modelyard.registry.provider_views import ProviderView
from modelyard.services import Registry

ALL = PageRequest(limit=500)


async def _system_providers(registry: Registry, admin: Actor) -> dict[str, ProviderView]:
    page = await registry.providers.list(admin, ALL, ProviderFilter(owner="system"))
    return {p.name: p for p in page.items}


def _totals(entries: tuple[CatalogProvider, ...]) -> SeedReport:
    models = sum(len(p.models) for p in entries)
    return SeedReport(providers_created=len(entries), models_created=models, prices_added=models)


async def test_first_seed_creates_hosted_providers_disabled_with_models_and_prices(
    registry: Registry, admin: Actor
) -> None:
    entries = load_catalog()
    report = await seed_catalog(registry, admin)
    assert report == _totals(entries)
    providers = await _system_providers(registry, admin)
    assert set(providers) == {p.name for p in entries}
    for entry in entries:
        provider = providers[entry.name]
        assert provider.kind == entry.kind
        assert not provider.has_api_key
        assert provider.enabled is not needs_api_key(entry)
        models = await registry.models.list(admin, ALL, ModelFilter(provider_id=provider.id))
        assert {m.model_id for m in models.items} == {m.model_id for m in entry.models}
        assert all(m.price is not None for m in models.items)
    assert not providers["openai"].enabled
    assert providers["ollama"].enabled


async def test_second_seed_creates_nothing_and_writes_no_audit_event(
    registry: Registry, admin: Actor
) -> None:
    await seed_catalog(registry, admin)
    events_before = (await registry.audit.list(admin, PageRequest(limit=1))).total
    generation_before = await registry.generation()
    assert await seed_catalog(registry, admin) == SeedReport(0, 0, 0)
    assert (await registry.audit.list(admin, PageRequest(limit=1))).total == events_before
    assert await registry.generation() == generation_before


async def test_prices_match_the_catalog_exactly_as_decimals(
    registry: Registry, admin: Actor
) -> None:
    await seed_catalog(registry, admin)
    providers = await _system_providers(registry, admin)
    for entry in load_catalog():
        page = await registry.models.list(
            admin, ALL, ModelFilter(provider_id=providers[entry.name].id)
        )
        stored = {m.model_id: m for m in page.items}
        for item in entry.models:
            model = stored[item.model_id]
            assert model.price is not None
            assert isinstance(model.price.input_per_mtok, Decimal)
            assert model.price.input_per_mtok == item.input_per_mtok
            assert model.price.output_per_mtok == item.output_per_mtok
            assert model.price.cached_input_per_mtok == item.cached_input_per_mtok
            assert model.price.cache_write_per_mtok == item.cache_write_per_mtok
            assert model.price.currency == "USD"
            assert model.capabilities == list(item.capabilities)
            assert model.context_window == item.context_window


async def test_enabling_a_keyless_openai_provider_fails_until_a_key_is_set(
    registry: Registry, admin: Actor
) -> None:
    await seed_catalog(registry, admin)
    openai = (await _system_providers(registry, admin))["openai"]
    with pytest.raises(ValidationFailed) as failure:
        await registry.providers.set_enabled(admin, openai.id, True)
    assert failure.value.code == "VALIDATION_FAILED"
    assert "set an api key first" in failure.value.message
    assert failure.value.details["errors"][0]["path"] == "api_key"
    assert not (await registry.providers.get(admin, openai.id)).enabled

    await registry.providers.rotate_key(admin, openai.id, "sk-seeded-0123456789abcd")
    enabled = await registry.providers.set_enabled(admin, openai.id, True)
    assert enabled.enabled
    assert enabled.api_key == "sk-...abcd"
    assert (await registry.providers.activate(admin, openai.id)).is_active


async def test_creating_an_enabled_openai_provider_without_a_key_still_fails(
    registry: Registry, admin: Actor
) -> None:
    with pytest.raises(ValidationFailed, match="api_key"):
        await registry.providers.create(admin, {"name": "openai", "kind": "openai"})
    created = await registry.providers.create(
        admin, {"name": "openai", "kind": "openai", "enabled": False}
    )
    assert not created.enabled
    assert not created.has_api_key


async def test_existing_providers_and_models_are_left_as_they_are(
    registry: Registry, admin: Actor
) -> None:
    entries = load_catalog()
    openai = next(p for p in entries if p.name == "openai")
    first = openai.models[0]
    mine = await registry.providers.create(
        admin,
        {
            "name": "openai",
            "kind": "openai",
            "display_name": "Our OpenAI",
            "api_key": "sk-ours-0123456789abcd",
        },
    )
    await registry.models.create(
        admin,
        {
            "provider_id": mine.id,
            "model_id": first.model_id,
            "display_name": "Ours",
            "price": {
                "input_per_mtok": first.input_per_mtok,
                "output_per_mtok": first.output_per_mtok,
                "cached_input_per_mtok": first.cached_input_per_mtok,
                "cache_write_per_mtok": first.cache_write_per_mtok,
            },
        },
    )
    totals = _totals(entries)
    assert await seed_catalog(registry, admin) == SeedReport(
        providers_created=totals.providers_created - 1,
        models_created=totals.models_created - 1,
        prices_added=totals.prices_added - 1,
        models_updated=1,  # its empty limits filled in
    )
    after = (await _system_providers(registry, admin))["openai"]
    assert (after.id, after.display_name, after.enabled) == (mine.id, "Our OpenAI", True)
    page = await registry.models.list(admin, ALL, ModelFilter(provider_id=mine.id))
    ours = {m.model_id: m for m in page.items}[first.model_id]
    assert ours.display_name == "Ours"
    assert ours.capabilities == ["text"]  # what its creator chose stays
    assert (ours.context_window, ours.max_output_tokens) == (
        first.context_window,
        first.max_output_tokens,
    )
    assert page.total == len(openai.models)


async def test_a_changed_catalog_price_appends_a_row_and_keeps_the_old_one(
    registry: Registry, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = load_catalog()
    await seed_catalog(registry, admin)
    anthropic = next(p for p in entries if p.name == "anthropic")
    old = anthropic.models[0]
    new = dataclasses.replace(old, input_per_mtok=old.input_per_mtok + Decimal("0.125"))
    changed = dataclasses.replace(anthropic, models=(new, *anthropic.models[1:]))
    patched = tuple(changed if p.name == "anthropic" else p for p in entries)
    monkeypatch.setattr(catalog, "load_catalog", lambda: patched)

    assert await seed_catalog(registry, admin) == SeedReport(0, 0, 1)
    provider = (await _system_providers(registry, admin))["anthropic"]
    page = await registry.models.list(admin, ALL, ModelFilter(provider_id=provider.id))
    model = next(m for m in page.items if m.model_id == old.model_id)
    history = await registry.prices.history(admin, model.id)
    assert [p.input_per_mtok for p in history] == [old.input_per_mtok, new.input_per_mtok]
    assert model.price is not None
    assert model.price.input_per_mtok == new.input_per_mtok
    assert await seed_catalog(registry, admin) == SeedReport(0, 0, 0)


async def test_only_admins_seed(registry: Registry) -> None:
    member = Actor(user_id=uuid.uuid4(), role="member", label="user:member@example.com")
    with pytest.raises(Forbidden):
        await seed_catalog(registry, member)


async def test_seeded_models_have_their_capabilities_and_limits_from_models_dev(
    registry: Registry, admin: Actor
) -> None:
    await seed_catalog(registry, admin)
    openai = (await _system_providers(registry, admin))["openai"]
    page = await registry.models.list(admin, ALL, ModelFilter(provider_id=openai.id))
    stored = {m.model_id: m for m in page.items}
    gpt4o = stored["gpt-4o"]
    assert {"text", "vision", "function_calling", "json_mode", "streaming"} <= set(
        gpt4o.capabilities
    )
    assert (gpt4o.context_window, gpt4o.max_output_tokens) == (128_000, 16_384)
    embedder = stored["text-embedding-3-small"]
    assert "embedding" in embedder.capabilities
    assert not {"streaming", "function_calling", "vision"} & set(embedder.capabilities)
    assert embedder.max_output_tokens is None
    vision = await registry.models.list(admin, ALL, ModelFilter(capability="vision"))
    assert "gpt-4o" in {m.model_id for m in vision.items}
