"""The adapter contract.

The gateway speaks OpenAI's chat-completions format inside: an adapter receives the caller's
request body as OpenAI defines it (with ``model`` already replaced by the upstream model id)
and returns OpenAI-shaped responses, translating to and from its vendor's wire protocol.
Each adapter maps its vendor's failures to :mod:`modelyard.errors` at its edge and
knows nothing of the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp


@dataclass(frozen=True)
class Target:
    """Where a call goes: one provider instance and one of its models."""

    provider_id: str
    provider_name: str
    kind: str
    base_url: str
    api_key: str | None
    model_id: str
    organization: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 60.0
    # What adapters work out once per target (request headers, timeouts), not per call: a
    # target is made once per provider and model and lives as long as its snapshot.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ChatResult:
    body: dict[str, Any]  # an OpenAI ``chat.completion`` object
    usage: Usage
    raw: bytes | None = None  # ``body`` exactly as the upstream sent it, when it is OpenAI's


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    body: dict[str, Any]  # an OpenAI embeddings ``list`` object
    usage: Usage
    raw: bytes | None = None  # ``body`` exactly as the upstream sent it, when it is OpenAI's


@dataclass(slots=True)
class StreamChunk:
    """One OpenAI ``chat.completion.chunk``; ``usage`` is set on the chunk that carries it.

    ``more`` says the adapter already holds the next chunk (it came in the same read of the
    upstream's body): a relay may hold this one back and write both at once."""

    chunk: dict[str, Any]
    usage: Usage | None = None
    more: bool = False


class Adapter(Protocol):
    async def chat(
        self, http: aiohttp.ClientSession, target: Target, body: dict[str, Any]
    ) -> ChatResult: ...

    def stream(
        self, http: aiohttp.ClientSession, target: Target, body: dict[str, Any]
    ) -> AsyncIterator[StreamChunk]: ...

    async def embed(
        self, http: aiohttp.ClientSession, target: Target, body: dict[str, Any]
    ) -> EmbeddingResult: ...
