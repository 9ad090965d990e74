"""Seed 004's four providers as presets: Groq, OpenRouter, Google AI and ChatGPT, each of the
fitting kind, hosted, and so disabled until a key is set (as seed 004 seeds them).

Groq and OpenRouter are the same providers as the built-in catalog's (same name, kind, base
URL and vendor), so loading the presets after ``modelyard seed`` changes nothing there; Google
AI (``google_ai``) and ChatGPT (``chatgpt``) are added beside the catalog's ``gemini`` and
``openai`` under seed 004's own names. ``modelyard import`` of seed 004's
``config/admin_settings.json`` loads them and gives Groq its key.
"""

from __future__ import annotations

from typing import Any

SEED004: tuple[dict[str, Any], ...] = (
    {
        "name": "groq",
        "kind": "openai_compatible",
        "display_name": "Groq",
        "base_url": "https://api.groq.com/openai/v1",
        "config": {"vendor": "groq"},
    },
    {
        "name": "openrouter",
        "kind": "openai_compatible",
        "display_name": "OpenRouter",
        "base_url": "https://openrouter.ai/api/v1",
        "config": {"vendor": "openrouter"},
    },
    {
        "name": "google_ai",
        "kind": "gemini",
        "display_name": "Google AI (Gemini)",
        "base_url": "https://generativelanguage.googleapis.com/v1beta",
    },
    {
        "name": "chatgpt",
        "kind": "openai",
        "display_name": "ChatGPT (OpenAI)",
        "base_url": "https://api.openai.com/v1",
    },
)

PRESETS: dict[str, tuple[dict[str, Any], ...]] = {"seed004": SEED004}


def preset(name: str) -> tuple[dict[str, Any], ...]:
    """A named preset's providers (fresh copies); KeyError for an unknown name."""
    return tuple(dict(entry) for entry in PRESETS[name])
