"""Anthropic's Messages API (``POST /v1/messages``) behind OpenAI's chat-completions shape.

The key travels in ``x-api-key`` with the configured ``anthropic-version`` (default
2023-06-01). Requests and replies are translated in :mod:`.anthropic_wire`; this module
sends them through the shared :mod:`.edge`, maps failures with :func:`_error` and relays the
event stream: a role chunk on ``message_start``, content deltas for ``text_delta``,
``tool_calls`` deltas for ``tool_use`` blocks (id and name when the block starts, argument
fragments from ``input_json_delta``), then, after ``message_stop``, a chunk with the finish
reason and a usage chunk last (``choices: []``). ``ping`` and ``thinking`` events are
skipped; an ``error`` event raises the mapped domain error. A stream that ends before
``message_stop`` was cut off: that is an :class:`UpstreamUnavailable`, never a quiet ``stop``.

Callers of the ``/v1/messages`` ingress are passed through: :meth:`AnthropicAdapter.messages`,
:meth:`~AnthropicAdapter.messages_stream` (each event relayed as it came, with usage read
from ``message_start`` and ``message_delta`` and, in between, a running estimate of the
output that an interrupted stream is charged) and :meth:`~AnthropicAdapter.count_tokens`.

Usage: Anthropic's ``input_tokens`` excludes cache reads and writes, so prompt tokens are
``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``, and cached tokens
are the cache reads, cache-write tokens the cache creations. Anthropic has no embeddings API.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp

from modelyard import tokens
from modelyard.adapters import anthropic_wire as wire
from modelyard.adapters import edge, shapes, sse
from modelyard.adapters.base import (
    ChatResult,
    EmbeddingResult,
    MessageResult,
    StreamChunk,
    Target,
    Usage,
)
from modelyard.errors import UpstreamBadRequest, UpstreamError, UpstreamUnavailable

Json = dict[str, Any]
MESSAGES_PATH = "/v1/messages"
MODELS_PATH = "/v1/models"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
DEFAULT_VERSION = "2023-06-01"
# The HTTP status each error ``type`` comes with: an ``error`` event mid-stream names only
# the type. 529 ``overloaded_error`` is Anthropic's own status: a 5xx, so retryable.
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def _error_of(document: Any) -> Json:
    """``error`` of ``{"type": "error", "error": {"type", "message"}, "request_id"}``."""
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, dict) else {}


def _error(failure: edge.Failure, target: Target) -> UpstreamError:
    """A reply of 300 or more, or an ``error`` event, as a domain error; the message names
    the error ``type`` too. Anthropic's own 529 ``overloaded_error`` is a 5xx: unavailable."""
    error = _error_of(failure.body)
    message = edge.describe(target, failure.status, error.get("message"), error.get("type"))
    return edge.http_error(failure.status, message, failure.retry_after)


class _Stream:
    """Anthropic stream events -> OpenAI ``chat.completion.chunk`` objects sharing one id."""

    def __init__(self, body: Json, model: str) -> None:
        self.body = body
        self.base: Json = {
            "id": "",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        self.tools: dict[Any, int] = {}  # content block index -> tool call index
        self.silent: set[int] = set()  # tool calls that have sent no arguments yet
        self.produced: list[str] = []
        self.usage: Json = {}
        self.stop_reason: Any = None
        self.stopped = False

    def delta(self, delta: Json, finish: str | None = None) -> StreamChunk:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return StreamChunk({**self.base, "choices": [choice]})

    def event(self, event: Json) -> Iterator[StreamChunk]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self.base["id"] = message.get("id") or self.base["id"]
            self.base["model"] = message.get("model") or self.base["model"]
            self.count(message.get("usage"))
            yield self.delta({"role": "assistant", "content": ""})
        elif kind == "content_block_start":
            yield from self.block(event.get("index"), event.get("content_block") or {})
        elif kind == "content_block_delta":
            yield from self.fragment(event.get("index"), event.get("delta") or {})
        elif kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            self.count(event.get("usage"))
        elif kind == "content_block_stop" and self.tools.get(event.get("index")) in self.silent:
            yield self.arguments(self.tools[event["index"]], "{}")  # a call without arguments
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "error":
            raise edge.Failure(ERROR_STATUS.get(str(_error_of(event).get("type")), 500), event)

    def count(self, usage: Any) -> None:
        """Usage counts so far (``message_delta`` repeats totals, not increments)."""
        if isinstance(usage, dict):
            self.usage.update((k, v) for k, v in usage.items() if isinstance(v, int))

    def block(self, index: Any, block: Json) -> Iterator[StreamChunk]:
        if block.get("type") == "text" and block.get("text"):
            self.produced.append(block["text"])
            yield self.delta({"content": block["text"]})
        elif block.get("type") == "tool_use":
            self.tools[index] = len(self.tools)
            self.silent.add(self.tools[index])
            call = wire.tool_call({**block, "input": {}})
            call["function"]["arguments"] = ""
            self.produced.append(call["function"]["name"])
            yield self.delta({"tool_calls": [{"index": self.tools[index], **call}]})

    def fragment(self, index: Any, delta: Json) -> Iterator[StreamChunk]:
        if delta.get("type") == "text_delta" and delta.get("text"):
            self.produced.append(delta["text"])
            yield self.delta({"content": delta["text"]})
        elif delta.get("type") == "input_json_delta" and index in self.tools:
            fragment = delta.get("partial_json")
            if fragment and isinstance(fragment, str):  # the first one is often empty
                yield self.arguments(self.tools[index], fragment)

    def arguments(self, call: int, fragment: str) -> StreamChunk:
        self.silent.discard(call)
        self.produced.append(fragment)
        return self.delta({"tool_calls": [{"index": call, "function": {"arguments": fragment}}]})

    def end(self) -> Iterator[StreamChunk]:
        yield self.delta({}, wire.finish_reason(self.stop_reason))
        counted = wire.usage(self.usage) or shapes.estimate(self.body, "".join(self.produced))
        chunk = {**self.base, "choices": [], "usage": shapes.usage_json(counted)}
        yield StreamChunk(chunk, counted)


class _Relay:
    """Anthropic's own events as they came, usage counted on the way (``message_delta``
    repeats totals); between ``message_start`` and ``message_delta`` each delta carries a
    running estimate of the output, marked estimated."""

    def __init__(self) -> None:
        self.counts: Json = {}
        self.chars = 0
        self.stopped = False

    def chunk(self, raw: bytes, more: bool) -> StreamChunk | None:
        event = edge.loads(raw)
        if not isinstance(event, dict):
            return None  # a broken event is skipped
        kind, usage = event.get("type"), None
        if kind == "message_start":
            message = event.get("message")
            self.count(message.get("usage") if isinstance(message, dict) else None)
            usage = self.running()
        elif kind == "content_block_delta":
            delta = event.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            for name in ("text", "partial_json", "thinking"):
                if isinstance(delta.get(name), str):
                    self.chars += len(delta[name])
            usage = self.running()
        elif kind == "message_delta":
            self.count(event.get("usage"))
            usage = wire.usage(self.counts)
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "error":
            raise edge.Failure(ERROR_STATUS.get(str(_error_of(event).get("type")), 500), event)
        return StreamChunk(event, usage, more=more, raw=raw)

    def count(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.counts.update((k, v) for k, v in usage.items() if isinstance(v, int))

    def running(self) -> Usage | None:
        counted = wire.usage(self.counts)
        if counted is None:
            return None
        produced = max(counted.completion_tokens, math.ceil(self.chars / tokens.CHARS_PER_TOKEN))
        return dataclasses.replace(counted, completion_tokens=produced, estimated=True)


def _headers(target: Target) -> dict[str, str]:
    version = target.config.get("anthropic_version") or DEFAULT_VERSION
    headers = {
        **target.headers,
        "anthropic-version": str(version),
        "content-type": "application/json",
    }
    if target.api_key:
        headers["x-api-key"] = target.api_key
    return headers


class AnthropicAdapter:
    async def _post(
        self,
        http: aiohttp.ClientSession,
        target: Target,
        payload: Json,
        *,
        streaming: bool,
        path: str = MESSAGES_PATH,
        beta: str | None = None,
    ) -> aiohttp.ClientResponse:
        headers = _headers(target)
        if beta:
            headers["anthropic-beta"] = beta
        url = f"{target.base_url}{path}"
        return await edge.send(http, target, url, payload, headers=headers, streaming=streaming)

    async def list_models(self, http: aiohttp.ClientSession, target: Target) -> list[str]:
        """``GET /v1/models``: the ids of ``data[]`` (a connection test's call)."""
        url = f"{target.base_url}{MODELS_PATH}"
        async with (
            edge.edge(target, _error),
            await edge.send(
                http, target, url, None, headers=_headers(target), method="GET"
            ) as response,
        ):
            raw = await response.read()
        listed = edge.json_object(raw, target).get("data")
        items = listed if isinstance(listed, list) else []
        return [str(m["id"]) for m in items if isinstance(m, dict) and "id" in m]

    async def messages(
        self, http: aiohttp.ClientSession, target: Target, body: Json, beta: str | None
    ) -> MessageResult:
        """A Messages API request passed through; the reply as it came, and its usage."""
        async with (
            edge.edge(target, _error),
            await self._post(http, target, body, streaming=False, beta=beta) as response,
        ):
            raw = await response.read()
        document = edge.json_object(raw, target)
        content = document.get("content")
        produced = "".join(
            str(b.get("text") or b.get("input") or "")
            for b in (content if isinstance(content, list) else ())
            if isinstance(b, dict)
        )
        counted = wire.usage(document.get("usage")) or shapes.estimate(body, produced)
        return MessageResult(document, counted, raw)

    async def messages_stream(
        self, http: aiohttp.ClientSession, target: Target, body: Json, beta: str | None
    ) -> AsyncIterator[StreamChunk]:
        """A Messages API stream passed through, event by event (:class:`_Relay`)."""
        relay = _Relay()
        async with (
            edge.edge(target, _error),
            await self._post(http, target, body, streaming=True, beta=beta) as response,
        ):
            async for batch in sse.raw_batches(response.content):
                for index, (_, data) in enumerate(batch):
                    chunk = relay.chunk(data, more=index < len(batch) - 1)
                    if chunk is not None:
                        yield chunk
                if relay.stopped:
                    break
        if not relay.stopped:
            name = target.provider_name
            raise UpstreamUnavailable(f"{name}: the stream ended before message_stop")

    async def count_tokens(
        self, http: aiohttp.ClientSession, target: Target, body: Json, beta: str | None
    ) -> int:
        """The upstream's own count of a request's input tokens."""
        async with (
            edge.edge(target, _error),
            await self._post(
                http, target, body, streaming=False, path=COUNT_TOKENS_PATH, beta=beta
            ) as response,
        ):
            raw = await response.read()
        counted = edge.json_object(raw, target).get("input_tokens")
        if not isinstance(counted, int) or isinstance(counted, bool):
            raise UpstreamError(f"{target.provider_name}: count_tokens answered no input_tokens")
        return counted

    async def chat(self, http: aiohttp.ClientSession, target: Target, body: Json) -> ChatResult:
        payload = wire.build_request({**body, "stream": False}, target.model_id)
        async with (
            edge.edge(target, _error),
            await self._post(http, target, payload, streaming=False) as response,
        ):
            raw = await response.read()
        document = edge.json_object(raw, target)
        completion, usage = wire.reply(document, body, target.model_id, int(time.time()))
        return ChatResult(completion, usage)

    async def stream(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> AsyncIterator[StreamChunk]:
        payload = wire.build_request({**body, "stream": True}, target.model_id)
        state = _Stream(body, target.model_id)
        async with (
            edge.edge(target, _error),
            await self._post(http, target, payload, streaming=True) as response,
        ):
            async for _, data in sse.events(response.content):
                event = edge.loads(data)
                if isinstance(event, dict):  # a broken event is skipped
                    for chunk in state.event(event):
                        yield chunk
                if state.stopped:
                    break
        if not state.stopped:
            name = target.provider_name
            raise UpstreamUnavailable(f"{name}: the stream ended before message_stop")
        for chunk in state.end():
            yield chunk

    async def embed(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> EmbeddingResult:
        raise UpstreamBadRequest(
            f"{target.provider_name}: Anthropic does not offer embeddings; "
            "route embeddings to an OpenAI, Gemini or Ollama provider",
            details={"param": "model"},
        )


ADAPTER = AnthropicAdapter()
