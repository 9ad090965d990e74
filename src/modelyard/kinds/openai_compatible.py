"""The ``openai_compatible`` kind: any vendor speaking OpenAI's API (Groq, DeepSeek,
OpenRouter, vLLM ...), through the OpenAI adapter; the base URL has no default and the key is
optional (a local server may need none)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from modelyard.adapters.openai import ADAPTER
from modelyard.kinds.base import Kind, KindConfig, checked_path

Path = Annotated[str, AfterValidator(checked_path)]  # a path under base_url, never a URL


class OpenAICompatibleConfig(KindConfig):
    vendor: str | None = Field(default=None, description="e.g. groq, deepseek, openrouter, vllm")
    chat_path: Path = Field(default="/chat/completions", max_length=300)
    embeddings_path: Path = Field(default="/embeddings", max_length=300)


class OpenAICompatibleKind(Kind):
    def catalog_config(self, vendor: str) -> dict[str, Any]:
        """A catalog provider names its vendor (the catalog's provider name)."""
        return {"vendor": vendor}


KIND = OpenAICompatibleKind(
    name="openai_compatible", config_model=OpenAICompatibleConfig, adapter=ADAPTER
)
