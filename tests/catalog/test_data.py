"""Tests for the genai-prices backed built-in provider/model catalog."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from genai_prices import Usage, calc_price

from modelyard.catalog import data as catalog_data
from modelyard.catalog.data import (
    CAPABILITIES,
    CatalogModel,
    CatalogProvider,
    load_catalog,
)

ALLOWED_CAPABILITIES = {
    "text",
    "vision",
    "function_calling",
    "code",
    "long_context",
    "embedding",
    "json_mode",
    "streaming",
}
ALLOWED_KINDS = {"openai", "anthropic", "gemini", "ollama", "openai_compatible"}
# modelyard provider name -> genai-prices provider id
GENAI_PROVIDER_IDS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "groq": "groq",
    "deepseek": "deepseek",
    "mistral": "mistral",
    "together": "together",
    "openrouter": "openrouter",
}
# Providers whose prices depend on the time of day (peak/off-peak windows).
TIME_OF_DAY_PRICED = {"deepseek"}
FIXED_DAY = date(2026, 11, 2)


def _by_name(catalog: tuple[CatalogProvider, ...]) -> dict[str, CatalogProvider]:
    return {provider.name: provider for provider in catalog}


def _all_models(catalog: tuple[CatalogProvider, ...]) -> list[tuple[str, CatalogModel]]:
    return [(provider.name, model) for provider in catalog for model in provider.models]


def _cost(model: CatalogModel, tokens: int) -> Decimal:
    output = 0 if "embedding" in model.capabilities else tokens
    return (model.input_per_mtok * tokens + model.output_per_mtok * output) / 1_000_000


def test_openai_and_anthropic_present_with_native_kinds() -> None:
    providers = _by_name(load_catalog())
    assert providers["openai"].kind == "openai"
    assert providers["openai"].base_url == "https://api.openai.com/v1"
    assert providers["anthropic"].kind == "anthropic"
    assert providers["anthropic"].base_url == "https://api.anthropic.com"
    assert providers["openai"].models
    assert providers["anthropic"].models


def test_provider_shape() -> None:
    catalog = load_catalog()
    names = [provider.name for provider in catalog]
    assert len(names) == len(set(names))
    assert {"openai", "anthropic", "gemini", "groq", "deepseek", "mistral", "ollama"} <= set(names)
    for provider in catalog:
        assert provider.kind in ALLOWED_KINDS
        assert provider.name == provider.name.lower()
        assert provider.base_url.startswith(("https://", "http://localhost"))
        assert provider.display_name
        assert provider.description
        assert len(provider.models) <= catalog_data.MAX_MODELS_PER_PROVIDER
        if provider.kind != "ollama":
            assert provider.models, f"{provider.name} has no priced models"
    providers = _by_name(catalog)
    assert providers["gemini"].kind == "gemini"
    assert providers["mistral"].kind == "openai_compatible"
    assert providers["ollama"].kind == "ollama"
    assert providers["ollama"].models == ()
    assert providers["ollama"].base_url == "http://localhost:11434"


def test_every_price_is_a_non_negative_decimal() -> None:
    for name, model in _all_models(load_catalog()):
        prices = [model.input_per_mtok, model.output_per_mtok]
        if model.cached_input_per_mtok is not None:
            prices.append(model.cached_input_per_mtok)
        if model.cache_write_per_mtok is not None:
            prices.append(model.cache_write_per_mtok)
        for price in prices:
            assert type(price) is Decimal, (name, model.model_id, price)
            assert price.is_finite()
            assert price >= 0, (name, model.model_id, price)
        if "embedding" in model.capabilities:
            assert model.output_per_mtok == 0


def test_model_ids_unique_per_provider() -> None:
    for provider in load_catalog():
        ids = [model.model_id for model in provider.models]
        assert len(ids) == len(set(ids)), provider.name
        assert all(ids)


def test_capabilities_only_from_allowed_set() -> None:
    assert set(CAPABILITIES) == ALLOWED_CAPABILITIES
    for name, model in _all_models(load_catalog()):
        caps = model.capabilities
        assert isinstance(caps, tuple)
        assert set(caps) <= ALLOWED_CAPABILITIES, (name, model.model_id, caps)
        assert len(caps) == len(set(caps))
        assert "text" in caps
        assert list(caps) == [cap for cap in CAPABILITIES if cap in caps]  # canonical order
        if model.context_window is not None:
            assert model.context_window > 0


def test_embedding_models_are_marked() -> None:
    openai = _by_name(load_catalog())["openai"]
    embeddings = [m for m in openai.models if m.model_id.startswith("text-embedding-")]
    assert embeddings
    for model in embeddings:
        assert "embedding" in model.capabilities
        assert "streaming" not in model.capabilities
        assert model.output_per_mtok == Decimal(0)


def test_load_catalog_is_deterministic() -> None:
    first, second = load_catalog(), load_catalog()
    assert first == second
    assert repr(first) == repr(second)
    assert hash(first) == hash(second)  # frozen dataclasses all the way down
    assert catalog_data._build_catalog(FIXED_DAY) == catalog_data._build_catalog(FIXED_DAY)


def test_gpt_4o_input_price_matches_genai_prices() -> None:
    openai = _by_name(load_catalog())["openai"]
    model = next(m for m in openai.models if m.model_id == "gpt-4o")
    direct = calc_price(Usage(input_tokens=1_000_000), "gpt-4o", provider_id="openai")
    assert direct.model.id == "gpt-4o"
    assert model.input_per_mtok == direct.input_price
    assert model.input_per_mtok > 0
    assert model.output_per_mtok > model.input_per_mtok


def test_catalog_prices_match_genai_prices_for_every_model() -> None:
    # Small usage stays in the base tier, so the flat catalog price must reproduce
    # genai-prices' own calculation exactly, and every model_id must resolve there.
    when = datetime.combine(FIXED_DAY, time(12), tzinfo=UTC)
    for name, model in _all_models(catalog_data._build_catalog(FIXED_DAY)):
        if name not in GENAI_PROVIDER_IDS or name in TIME_OF_DAY_PRICED:
            continue
        output = 0 if "embedding" in model.capabilities else 1000
        result = calc_price(
            Usage(input_tokens=1000, output_tokens=output),
            model.model_id,
            provider_id=GENAI_PROVIDER_IDS[name],
            genai_request_timestamp=when,
        )
        assert result.total_price == _cost(model, 1000), (name, model.model_id)


def test_time_of_day_prices_use_the_peak_rate() -> None:
    start = datetime.combine(FIXED_DAY, time(0), tzinfo=UTC)
    half_hours = [start + timedelta(minutes=30 * i + 1) for i in range(48)]
    for name, model in _all_models(catalog_data._build_catalog(FIXED_DAY)):
        if name not in TIME_OF_DAY_PRICED:
            continue
        costs = {
            calc_price(
                Usage(input_tokens=1000, output_tokens=1000),
                model.model_id,
                provider_id=GENAI_PROVIDER_IDS[name],
                genai_request_timestamp=when,
            ).total_price
            for when in half_hours
        }
        assert _cost(model, 1000) == max(costs), model.model_id
