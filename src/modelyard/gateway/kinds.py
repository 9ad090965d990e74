"""Provider kind -> adapter. :func:`adapter_for` is the one place a kind picks its wire
protocol; the core never branches on a kind's name."""

from __future__ import annotations

from modelyard.adapters import anthropic, declarative, fake, gemini, ollama, openai
from modelyard.adapters.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    "openai": openai.ADAPTER,
    "openai_compatible": openai.ADAPTER,
    "anthropic": anthropic.ADAPTER,
    "gemini": gemini.ADAPTER,
    "ollama": ollama.ADAPTER,
    "declarative": declarative.ADAPTER,
    "fake": fake.ADAPTER,
}


def adapter_for(kind: str) -> Adapter:
    return ADAPTERS[kind]
