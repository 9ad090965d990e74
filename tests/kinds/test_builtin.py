"""The built-in kinds: registered as entry points like any plug-in, each with its defaults,
its config model, its key rule and its adapter."""

from __future__ import annotations

from importlib import metadata

import pytest

from modelyard.adapters import anthropic, declarative, fake, gemini, ollama, openai
from modelyard.adapters.fake import FakeConfig
from modelyard.errors import ValidationFailed
from modelyard.kinds.base import GROUP, adapter_for, kind_of, kinds, problems, typed_config
from modelyard.kinds.declarative_examples import EXAMPLE_OPENAI_CHAT

BUILT_IN = {
    # name: (default base URL, needs a key with the default config, adapter)
    "openai": ("https://api.openai.com/v1", True, openai.ADAPTER),
    "openai_compatible": (None, False, openai.ADAPTER),
    "anthropic": ("https://api.anthropic.com", True, anthropic.ADAPTER),
    "gemini": ("https://generativelanguage.googleapis.com/v1beta", True, gemini.ADAPTER),
    "ollama": ("http://localhost:11434", False, ollama.ADAPTER),
    "declarative": (None, True, declarative.ADAPTER),
    "fake": ("http://fake.invalid", False, fake.ADAPTER),
}


def test_every_built_in_kind_is_an_entry_point_of_modelyard() -> None:
    points = {p.name: p for p in metadata.entry_points(group=GROUP)}
    for name in BUILT_IN:
        assert points[name].value == f"modelyard.kinds.{name}:KIND"
        assert points[name].dist is not None
        assert points[name].dist.name == "modelyard"
    assert set(BUILT_IN) <= set(kinds())
    assert problems() == ()


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_a_built_in_kind_keeps_its_defaults(name: str) -> None:
    base_url, needs_key, adapter = BUILT_IN[name]
    kind = kind_of(name)
    config = EXAMPLE_OPENAI_CHAT if name == "declarative" else {}
    assert kind.name == name
    assert kind.default_base_url == base_url
    assert kind.requires_key(typed_config(kind, config)) is needs_key
    assert kind.adapter is adapter
    assert adapter_for(name) is adapter


def test_a_declarative_provider_needs_a_key_unless_its_auth_scheme_is_none() -> None:
    kind = kind_of("declarative")
    keyless = typed_config(kind, EXAMPLE_OPENAI_CHAT | {"auth_scheme": "none"})
    assert kind.requires_key(keyless) is False
    assert kind.requires_key(typed_config(kind, EXAMPLE_OPENAI_CHAT)) is True


def test_only_openai_compatible_catalog_providers_name_their_vendor() -> None:
    assert kind_of("openai_compatible").catalog_config("groq") == {"vendor": "groq"}
    for name in set(BUILT_IN) - {"openai_compatible"}:
        assert kind_of(name).catalog_config("groq") == {}


def test_the_fake_kind_validates_its_config() -> None:
    kind = kind_of("fake")
    assert typed_config(kind, {}) == FakeConfig()
    with pytest.raises(ValidationFailed, match=r"config\.fail_with"):
        typed_config(kind, {"fail_with": "explode"})
    with pytest.raises(ValidationFailed, match=r"config\.replies"):
        typed_config(kind, {"replies": "typo"})


def test_an_unknown_kind_is_refused_with_the_installed_ones() -> None:
    with pytest.raises(ValidationFailed) as caught:
        kind_of("openia")
    assert caught.value.details["errors"][0]["path"] == "kind"
    assert caught.value.message.endswith(", ".join(sorted(kinds())))
