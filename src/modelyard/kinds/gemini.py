"""The ``gemini`` kind: Google's Gemini API (generateContent), keyed."""

from __future__ import annotations

from modelyard.adapters.gemini import ADAPTER
from modelyard.kinds.base import Kind, KindConfig


class GeminiConfig(KindConfig):
    pass


KIND = Kind(
    name="gemini",
    config_model=GeminiConfig,
    adapter=ADAPTER,
    default_base_url="https://generativelanguage.googleapis.com/v1beta",
    requires_api_key=True,
)
