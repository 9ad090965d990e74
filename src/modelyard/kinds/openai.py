"""The ``openai`` kind: OpenAI's own API, keyed."""

from __future__ import annotations

from pydantic import Field

from modelyard.adapters.openai import ADAPTER
from modelyard.kinds.base import Kind, KindConfig


class OpenAIConfig(KindConfig):
    project: str | None = Field(default=None, description="OpenAI project id sent as a header")


KIND = Kind(
    name="openai",
    config_model=OpenAIConfig,
    adapter=ADAPTER,
    default_base_url="https://api.openai.com/v1",
    requires_api_key=True,
)
