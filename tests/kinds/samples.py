"""Entry-point targets for the loading tests: one good plug-in kind and the ways one can be
broken."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from modelyard.adapters import fake
from modelyard.adapters.fake import FakeConfig
from modelyard.kinds.base import GROUP, Kind

SAMPLE = Kind("sample", FakeConfig, fake.ADAPTER, default_base_url="http://sample.invalid")
SAMPLE_TWIN = Kind("sample", FakeConfig, fake.ADAPTER, default_base_url="http://sample.invalid")
IMPOSTOR = Kind(name="openai", config_model=FakeConfig, adapter=fake.ADAPTER)
NOT_A_KIND = {"name": "dict"}
MISNAMED = Kind(name="other", config_model=FakeConfig, adapter=fake.ADAPTER)
BAD_NAME = Kind(name="Bad Name", config_model=FakeConfig, adapter=fake.ADAPTER)
NO_ADAPTER: Any = Kind(name="no_adapter", config_model=FakeConfig, adapter=object())  # type: ignore[arg-type]
NO_MODEL: Any = Kind(name="no_model", config_model=dict, adapter=fake.ADAPTER)  # type: ignore[arg-type]


def point(name: str, target: str) -> metadata.EntryPoint:
    """An entry point named ``name`` for ``target`` in this module."""
    return metadata.EntryPoint(name=name, value=f"tests.kinds.samples:{target}", group=GROUP)


def __getattr__(name: str) -> Any:
    if name == "EXPLODES":
        raise RuntimeError("the plug-in failed while loading")
    raise AttributeError(name)
