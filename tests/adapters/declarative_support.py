"""Shared by the declarative adapter tests: the made-up "acme" API and a caller's request."""

from __future__ import annotations

from typing import Any

from modelyard.adapters.base import Target
from tests.gateway.upstream import fixture

KEY = "acme-SECRET-key-42"
ACME: dict[str, Any] = fixture("declarative/acme_config.json")
ACME_ROUTE = ("POST", "/v2/generate/{model}")
GEMINI_ROUTE = ("POST", "/v1beta/models/large-2:generateContent")
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Say hello"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ],
    },
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": "In French"},
]


def make_target(url: str, config: dict[str, Any], **overrides: Any) -> Target:
    fields: dict[str, Any] = {
        "provider_id": "p1",
        "provider_name": "acme",
        "kind": "declarative",
        "base_url": url,
        "api_key": KEY,
        "model_id": "large-2",
        "config": config,
    }
    return Target(**(fields | overrides))
