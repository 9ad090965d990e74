"""The adapter contract.

The gateway speaks OpenAI's chat-completions format inside: an adapter receives the caller's
request body as OpenAI defines it (with ``model`` already replaced by the upstream model id)
and returns OpenAI-shaped responses, translating to and from its vendor's wire protocol.
Each adapter maps its vendor's failures to :mod:`modelyard.errors` at its edge and
knows nothing of the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Protocol, runtime_checkable

import aiohttp
import orjson


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
    cached_tokens: int = 0  # prompt tokens read from the provider's prompt cache
    _: KW_ONLY  # what follows is named at every call: a field added later shifts nothing
    cache_write_tokens: int = 0  # prompt tokens written to it (Anthropic's cache_creation)
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


@dataclass(frozen=True, slots=True)
class MessageResult:
    body: dict[str, Any]  # an Anthropic Messages API ``message`` object
    usage: Usage
    raw: bytes | None = None  # ``body`` exactly as the upstream sent it


class StreamChunk:
    """One OpenAI ``chat.completion.chunk``; ``usage`` is set on the chunk that carries it.

    ``raw``: the chunk's JSON exactly as an upstream that speaks OpenAI's format sent it,
    which a relay forwards without encoding it again; ``chunk`` is then parsed from it only
    when something asks. ``more`` says the adapter already holds the next chunk (it came in
    the same read of the upstream's body): a relay may hold this one back and write both at
    once."""

    __slots__ = ("_chunk", "more", "raw", "usage")

    def __init__(
        self,
        chunk: dict[str, Any] | None = None,
        usage: Usage | None = None,
        *,
        more: bool = False,
        raw: bytes | None = None,
    ) -> None:
        self._chunk = chunk
        self.usage = usage
        self.more = more
        self.raw = raw

    @property
    def chunk(self) -> dict[str, Any]:
        if self._chunk is None:
            parsed = _loads(self.raw) if self.raw is not None else None
            self._chunk = parsed if isinstance(parsed, dict) else {}
        return self._chunk

    def __repr__(self) -> str:
        return f"StreamChunk({self.chunk!r}, {self.usage!r}, more={self.more!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StreamChunk):
            return NotImplemented
        return (self.chunk, self.usage, self.more) == (other.chunk, other.usage, other.more)

    __hash__ = None  # type: ignore[assignment]


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


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


@runtime_checkable
class MessagesAdapter(Protocol):
    """An adapter whose upstream speaks Anthropic's Messages API itself: the ``/v1/messages``
    ingress passes a request through to it unchanged but for ``model`` (and ``max_tokens``,
    when a balance caps it). ``beta``: the caller's ``anthropic-beta`` header. A stream
    yields one :class:`StreamChunk` per event (``chunk`` the event, ``raw`` its bytes)."""

    async def messages(
        self, http: aiohttp.ClientSession, target: Target, body: dict[str, Any], beta: str | None
    ) -> MessageResult: ...

    def messages_stream(
        self, http: aiohttp.ClientSession, target: Target, body: dict[str, Any], beta: str | None
    ) -> AsyncIterator[StreamChunk]: ...

    async def count_tokens(
        self, http: aiohttp.ClientSession, target: Target, body: dict[str, Any], beta: str | None
    ) -> int: ...


@runtime_checkable
class ModelsAdapter(Protocol):
    """An adapter whose upstream lists the models a key may use: the cheapest real call,
    which a connection test makes (no tokens spent). Returns the upstream's model ids."""

    async def list_models(self, http: aiohttp.ClientSession, target: Target) -> list[str]: ...
