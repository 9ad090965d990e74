"""The ``anthropic`` kind: Anthropic's Messages API, keyed."""

from __future__ import annotations

from pydantic import Field

from modelyard.adapters.anthropic import ADAPTER
from modelyard.kinds.base import Kind, KindConfig


class AnthropicConfig(KindConfig):
    anthropic_version: str = Field(default="2023-06-01", description="anthropic-version header")


KIND = Kind(
    name="anthropic",
    config_model=AnthropicConfig,
    adapter=ADAPTER,
    default_base_url="https://api.anthropic.com",
    requires_api_key=True,
)
