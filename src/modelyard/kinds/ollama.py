"""The ``ollama`` kind: a local Ollama server through its native API, keyless."""

from __future__ import annotations

from pydantic import Field

from modelyard.adapters.ollama import ADAPTER
from modelyard.kinds.base import Kind, KindConfig


class OllamaConfig(KindConfig):
    keep_alive: str | None = Field(default=None, description="how long Ollama keeps models loaded")


KIND = Kind(
    name="ollama",
    config_model=OllamaConfig,
    adapter=ADAPTER,
    default_base_url="http://localhost:11434",
)
