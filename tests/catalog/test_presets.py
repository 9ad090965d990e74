"""Seed 004's four providers as a preset: created disabled until a key is set, of the fitting
kinds, the same as the catalog's where the catalog has the vendor."""

from __future__ import annotations

import pytest

from modelyard.catalog.data import load_catalog
from modelyard.catalog.presets import SEED004
from modelyard.catalog.seed import seed_catalog, seed_preset
from modelyard.errors import Forbidden, ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.services import Registry


async def _providers(registry: Registry, admin: Actor) -> dict[str, tuple[str, bool]]:
    page = await registry.providers.list(admin, PageRequest(limit=100))
    return {p.name: (p.kind, p.enabled) for p in page.items}


async def test_the_seed004_preset_creates_four_disabled_providers(
    registry: Registry, admin: Actor
) -> None:
    report = await seed_preset(registry, admin, "seed004")
    assert report.providers_created == 4
    assert await _providers(registry, admin) == {
        "groq": ("openai_compatible", False),
        "openrouter": ("openai_compatible", False),
        "google_ai": ("gemini", False),
        "chatgpt": ("openai", False),
    }
    assert (await seed_preset(registry, admin, "seed004")).providers_created == 0


async def test_after_the_catalog_only_seed_004s_own_names_are_added(
    registry: Registry, admin: Actor
) -> None:
    await seed_catalog(registry, admin)
    report = await seed_preset(registry, admin, "seed004")
    assert report.providers_created == 2  # google_ai and chatgpt; groq and openrouter exist


def test_preset_vendors_match_the_catalogs_own() -> None:
    catalog = {p.name: (p.kind, p.base_url) for p in load_catalog()}
    for entry in SEED004:
        if entry["name"] in catalog:
            assert catalog[entry["name"]] == (entry["kind"], entry["base_url"])


async def test_unknown_presets_and_members_are_refused(registry: Registry, admin: Actor) -> None:
    with pytest.raises(ValidationFailed, match="not a preset"):
        await seed_preset(registry, admin, "seed999")
    member = Actor(user_id=None, role="member", label="member")
    with pytest.raises(Forbidden):
        await seed_preset(registry, member, "seed004")
