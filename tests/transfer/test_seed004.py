"""Seed 004's config/admin_settings.json: its Groq key, base URL, endpoint and model become the
groq provider (key sealed, enabled, active), beside seed 004's other presets, disabled."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from modelyard.catalog.seed import seed_catalog
from modelyard.db.tables import Provider
from modelyard.errors import ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.services import Registry
from modelyard.transfer.document import dumps
from modelyard.transfer.seed004 import read_seed004
from modelyard.transfer.service import export_registry, import_registry
from tests.transfer.conftest import SEED004, SEED004_KEY


def _settings() -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(SEED004.read_bytes())
    return data


def test_the_groq_block_becomes_an_openai_compatible_provider_with_its_key() -> None:
    incoming = read_seed004(_settings())
    groq = next(p for p in incoming.document["providers"] if p["name"] == "groq")
    assert groq["kind"] == "openai_compatible"
    assert groq["base_url"] == "https://api.groq.com/openai/v1"
    assert groq["enabled"] is True
    assert [m["model_id"] for m in groq["models"]] == ["openai/gpt-oss-120b"]
    assert incoming.secrets == {"groq": SEED004_KEY}
    assert SEED004_KEY not in repr(incoming)
    assert SEED004_KEY.encode() not in orjson.dumps(incoming.document)
    others = {p["name"]: (p["kind"], p.get("enabled")) for p in incoming.document["providers"]}
    assert others == {  # the others: created disabled (no key), never disabled if they exist
        "groq": ("openai_compatible", True),
        "openrouter": ("openai_compatible", None),
        "google_ai": ("gemini", None),
        "chatgpt": ("openai", None),
    }


def test_every_field_it_does_not_use_is_listed_by_name() -> None:
    listed = {where for where, _ in read_seed004(_settings()).unsupported}
    assert listed == {
        "app_name",
        "active_provider",
        "groq.temperature",
        "groq.max_output_tokens",
        "groq.endpoint",  # the /responses endpoint: modelyard calls the chat one beside it
        "features",
    }


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["groq"].pop("api_key"), "(file)"),
        (lambda d: d["groq"].update(api_key="has a space"), "groq.api_key"),
        (lambda d: d["groq"].update(endpoint="/v1/generate"), "groq.endpoint"),
        (lambda d: d["groq"].update(model=42), "groq.model"),
        (lambda d: d.update(groq={}, a={"api_key": "k1"}, b={"api_key": "k2"}), "(file)"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(change: Any, path: str) -> None:
    data = copy.deepcopy(_settings())
    change(data)
    with pytest.raises(ValidationFailed) as caught:
        read_seed004(data)
    assert caught.value.details["errors"][0]["path"] == path
    assert "gsk_" not in caught.value.message


async def test_import_seals_the_key_and_makes_groq_active(registry: Registry, admin: Actor) -> None:
    report = await import_registry(
        registry, admin, SEED004.read_bytes(), source="config/admin_settings.json"
    )
    assert report.format == "seed004"
    async with registry.db.read(admin) as tx:
        groq = await tx.session.scalar(select(Provider).where(Provider.name == "groq"))
        assert groq is not None
        assert groq.api_key_sealed is not None
        assert SEED004_KEY not in groq.api_key_sealed
        assert tx.keyring.open(groq.api_key_sealed, context=f"provider:{groq.id}") == SEED004_KEY
        assert groq.enabled
        assert groq.is_active
    document = await export_registry(registry, admin)
    assert {p["name"]: p["enabled"] for p in document["providers"]} == {
        "chatgpt": False,
        "google_ai": False,
        "groq": True,
        "openrouter": False,
    }
    groq_models = next(p for p in document["providers"] if p["name"] == "groq")["models"]
    assert groq_models[0]["model_id"] == "openai/gpt-oss-120b"
    assert groq_models[0]["prices"], "the catalog's price comes with it"
    assert SEED004_KEY.encode() not in dumps(document)
    again = await import_registry(registry, admin, SEED004.read_bytes(), source="again")
    assert not again.changed, again.changes


async def test_after_the_catalog_seed_groq_is_the_catalog_provider_given_its_key(
    registry: Registry, admin: Actor
) -> None:
    await seed_catalog(registry, admin)
    report = await import_registry(registry, admin, SEED004.read_bytes(), source="s.json")
    groq = next(c for c in report.changes if c.entity == "provider" and c.name == "groq")
    assert groq.action == "updated"
    assert "api_key" in groq.detail
    assert "enabled" in groq.detail
    created = {c.name for c in report.changes if c.action == "created"}
    assert {"google_ai", "chatgpt"} <= created
    assert "openrouter" not in created  # the catalog's own, unchanged


async def test_a_preset_already_in_use_is_left_enabled(registry: Registry, admin: Actor) -> None:
    await registry.providers.create(
        admin,
        {
            "name": "openrouter",
            "display_name": "OpenRouter",
            "kind": "openai_compatible",
            "base_url": "https://openrouter.ai/api/v1",
            "config": {"vendor": "openrouter"},
            "api_key": "sk-or-fixture0000000001",
        },
    )
    report = await import_registry(registry, admin, SEED004.read_bytes(), source="s.json")
    openrouter = next(c for c in report.changes if c.name == "openrouter")
    assert openrouter.action == "unchanged"
    page = await registry.providers.list(admin, PageRequest())
    assert next(p.enabled for p in page.items if p.name == "openrouter") is True
