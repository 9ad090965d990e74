"""LiteLLM's config.yaml: providers by prefix, keys from the environment, model aliases named,
fallbacks, retries and timeouts where modelyard has them, every other entry listed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import yaml

from modelyard.errors import ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.transfer.document import dumps
from modelyard.transfer.litellm import read_litellm
from modelyard.transfer.service import export_registry, import_registry
from tests.transfer.conftest import LITELLM, LITELLM_ENV, SECRETS


def _config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(LITELLM.read_text())
    return data


def _providers(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in read_litellm(config, LITELLM_ENV).document["providers"]}


def test_each_prefix_becomes_a_provider_of_its_kind() -> None:
    providers = _providers(_config())
    kinds = {name: (p["kind"], p["base_url"]) for name, p in providers.items()}
    assert kinds == {
        "openai": ("openai", "https://api.openai.com/v1"),
        "anthropic": ("anthropic", "https://api.anthropic.com"),
        "groq": ("openai_compatible", "https://api.groq.com/openai/v1"),
        "gemini": ("gemini", "https://generativelanguage.googleapis.com/v1beta"),
        "ollama": ("ollama", "http://localhost:11434"),
        "vllm.internal-8000": ("openai_compatible", "http://vllm.internal:8000/v1"),
    }
    openai = providers["openai"]
    assert [m["model_id"] for m in openai["models"]] == ["gpt-4o", "gpt-4o-mini"]
    assert (openai["rpm_limit"], openai["tpm_limit"]) == (500, 200000)
    assert providers["anthropic"]["timeout_ms"] == 120_000  # its own timeout
    assert providers["openai"]["timeout_ms"] == 30_000  # router_settings.timeout
    assert providers["vllm.internal-8000"]["weight"] == 2


def test_keys_come_from_the_environment_and_stay_out_of_the_document() -> None:
    incoming = read_litellm(_config(), LITELLM_ENV)
    assert incoming.secrets == {
        "openai": LITELLM_ENV["FIXTURE_OPENAI_API_KEY"],
        "anthropic": LITELLM_ENV["FIXTURE_ANTHROPIC_API_KEY"],
        "groq": LITELLM_ENV["FIXTURE_GROQ_API_KEY"],
        "gemini": LITELLM_ENV["FIXTURE_GEMINI_API_KEY"],
    }
    text = orjson.dumps(incoming.document) + repr(incoming).encode()
    text += orjson.dumps(incoming.unsupported)
    assert not [s for s in SECRETS if s.encode() in text]


def test_model_info_gives_capabilities_limits_and_a_price() -> None:
    gpt4o = _providers(_config())["openai"]["models"][0]
    assert gpt4o["capabilities"] == ["text", "streaming", "vision", "function_calling"]
    assert (gpt4o["context_window"], gpt4o["max_output_tokens"]) == (128000, 16384)
    assert gpt4o["prices"] == [{"input_per_mtok": "2.5", "output_per_mtok": "10"}]


def test_fallbacks_name_models_as_provider_slash_model() -> None:
    providers = _providers(_config())
    assert providers["openai"]["models"][0]["fallbacks"] == [
        "anthropic/claude-sonnet-4-5",
        "openai/gpt-4o-mini",
    ]
    assert providers["anthropic"]["models"][0]["fallbacks"] == ["openai/gpt-4o"]


def test_retries_become_the_retry_setting() -> None:
    incoming = read_litellm(_config(), LITELLM_ENV)
    assert incoming.document["settings"] == {"gateway.retry": {"max_attempts": 3}}


def test_every_unsupported_entry_is_listed() -> None:
    listed = dict(read_litellm(_config(), LITELLM_ENV).unsupported)
    assert set(listed) == {
        "model_list[2].litellm_params.max_tokens",
        "model_list[2].model_name",  # claude-sonnet: an alias
        "model_list[5].model_name",  # local-llama
        "model_list[6].model_name",  # vllm-qwen
        "model_list[6].model_info.id",
        "model_list[7]",  # azure
        "model_list[8]",  # bedrock
        "router_settings.routing_strategy",
        "router_settings.allowed_fails",
        "router_settings.cooldown_time",
        "litellm_settings.drop_params",
        "litellm_settings.success_callback",
        "litellm_settings.context_window_fallbacks",
        "general_settings.master_key",
        "general_settings.database_url",
        "environment_variables",
    }
    assert "azure" in listed["model_list[7]"]
    assert "'claude-sonnet-4-5'" in listed["model_list[2].model_name"]


def _entry(model: str, **params: Any) -> dict[str, Any]:
    return {"model_name": model.rpartition("/")[2], "litellm_params": {"model": model, **params}}


@pytest.mark.parametrize(
    ("config", "path", "says"),
    [
        (
            {"model_list": [_entry("openai/gpt-4o", api_key="os.environ/FIXTURE_UNSET_KEY")]},
            "model_list[0].litellm_params.api_key",
            "FIXTURE_UNSET_KEY is not set",
        ),
        (
            {"model_list": [_entry("madeup/model-1")]},
            "model_list[0].litellm_params.model",
            "unknown provider prefix 'madeup'",
        ),
        (
            {"model_list": [_entry("gpt-4o")]},
            "model_list[0].litellm_params.model",
            "no provider prefix",
        ),
        (
            {"model_list": [_entry("groq/llama-3.1-8b-instant")] * 2},
            "model_list[1]",
            "duplicates model_list[0]",
        ),
        ({"model_list": {"a": 1}}, "model_list", "must be a list"),
        (
            {"model_list": [_entry("hosted_vllm/qwen")]},
            "model_list[0].litellm_params.api_base",
            "is required",
        ),
        (
            {"model_list": [], "router_settings": {"fallbacks": {"a": "b"}}},
            "router_settings.fallbacks",
            "must be a list",
        ),
    ],
)
def test_bad_configs_are_refused_naming_the_entry(
    config: dict[str, Any], path: str, says: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        read_litellm(config, {})
    assert caught.value.details["errors"][0]["path"] == path
    assert says in caught.value.message


async def test_import_creates_providers_with_sealed_keys_and_is_idempotent(
    registry: Registry, admin: Actor
) -> None:
    text = LITELLM.read_bytes()
    report = await import_registry(registry, admin, text, source="config.yaml", environ=LITELLM_ENV)
    assert report.format == "litellm"
    created = {(c.entity, c.name) for c in report.changes if c.action == "created"}
    assert ("provider", "openai") in created
    assert ("model", "vllm.internal-8000/Qwen/Qwen2.5-7B-Instruct") in created
    assert ("setting", "gateway.retry") in created
    document = await export_registry(registry, admin)
    providers = {p["name"]: p for p in document["providers"]}
    assert providers["openai"]["enabled"] is True
    gpt4o = providers["openai"]["models"][0]
    assert gpt4o["fallbacks"] == ["anthropic/claude-sonnet-4-5", "openai/gpt-4o-mini"]
    assert gpt4o["prices"][0]["input_per_mtok"] == "2.5"
    assert document["settings"]["gateway.retry"]["max_attempts"] == 3
    assert document["settings"]["gateway.retry"]["base_delay_ms"] == 500  # merged, not replaced
    assert not [s for s in SECRETS if s.encode() in dumps(document)]
    again = await import_registry(registry, admin, text, source="config.yaml", environ=LITELLM_ENV)
    assert not again.changed, [c for c in again.changes if c.action != "unchanged"]


async def test_a_refused_config_changes_nothing(registry: Registry, admin: Actor) -> None:
    before = dumps(await export_registry(registry, admin))
    with pytest.raises(ValidationFailed, match="FIXTURE_OPENAI_API_KEY is not set"):
        await import_registry(registry, admin, LITELLM.read_bytes(), source="c.yaml", environ={})
    assert dumps(await export_registry(registry, admin)) == before
