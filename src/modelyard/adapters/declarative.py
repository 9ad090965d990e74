"""Declarative providers (seed 004): a provider's config, not code, drives the HTTP call.

The request half (URL, auth, body) lives in :mod:`.declarative_build`; this module sends it
through the shared :mod:`.edge` and extracts the reply (and an error's message, at the
config's ``error_path``) with the config's JSON paths into OpenAI's shapes.

Streaming follows the config's ``response_extractor.streaming`` rule (SSE events, deltas
from ``delta_paths``, ending at ``done_marker``). A provider without that rule still
serves streaming callers: :meth:`DeclarativeAdapter.stream` makes one non-streamed call
and yields it as a role chunk, one content chunk, a finish chunk and a usage chunk.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Mapping
from functools import partial
from typing import Any

import aiohttp
import orjson

from modelyard import tokens
from modelyard.adapters import edge, shapes, sse
from modelyard.adapters.base import (
    ChatResult,
    EmbeddingResult,
    StreamChunk,
    Target,
    Usage,
)
from modelyard.adapters.declarative_build import (
    Compiled,
    ConfigCache,
    Path,
    build_body,
    build_headers,
    build_query,
    build_url,
)
from modelyard.errors import UpstreamBadRequest, UpstreamError
from modelyard.jsonpath import extract

FINISH_REASONS = {
    **dict.fromkeys(("stop", "end_turn", "stop_sequence", "eos", "complete"), "stop"),
    **dict.fromkeys(("length", "max_tokens", "max_output_tokens", "model_length"), "length"),
    **dict.fromkeys(("tool_calls", "tool_use", "function_call"), "tool_calls"),
    **dict.fromkeys(
        ("content_filter", "safety", "recitation", "blocklist", "prohibited_content", "spii"),
        "content_filter",
    ),
}


def _error(compiled: Compiled, failure: edge.Failure, target: Target) -> UpstreamError:
    """A failed reply as a domain error, with the message found at ``error_path``."""
    text = extract(failure.body, compiled.error_path) if compiled.error_path else None
    message = edge.describe(target, failure.status, text)
    return edge.from_status(failure.status, message, failure.retry_after)


def _raise_on_error_event(event: Any, compiled: Compiled, target: Target) -> None:
    """An error reported mid-stream (``{"error": {...}}`` as an event) ends the stream."""
    message = extract(event, compiled.error_path) if compiled.error_path else None
    if isinstance(message, str):
        raise edge.stream_failed(target, message)


def _count(document: Any, path: Path | None) -> int | None:
    value = extract(document, path) if path is not None else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _usage(counts: Mapping[str, int | None], body: dict[str, Any], completion_text: str) -> Usage:
    """Reported counts; whatever is missing is estimated and the result marked so."""
    prompt, completion = counts.get("prompt_tokens"), counts.get("completion_tokens")
    estimated = prompt is None or completion is None
    if prompt is None:
        prompt = shapes.prompt_estimate(body)
    if completion is None:
        completion = tokens.estimate_text(completion_text)
    return Usage(prompt, completion, counts.get("cached_tokens") or 0, estimated=estimated)


def _finish(document: Any, compiled: Compiled) -> str | None:
    value = extract(document, compiled.finish_path) if compiled.finish_path else None
    if not isinstance(value, str) or not value:
        return None
    return FINISH_REASONS.get(value.lower(), "stop")


def _first_text(document: Any, paths: tuple[Path, ...]) -> str | None:
    for path in paths:
        value = extract(document, path)
        if isinstance(value, str):
            return value
    return None


class _Chunks:
    """OpenAI ``chat.completion.chunk`` objects sharing one id."""

    def __init__(self, model: str) -> None:
        self.base = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

    def delta(self, delta: dict[str, Any], finish: str | None = None) -> StreamChunk:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return StreamChunk({**self.base, "choices": [choice]})

    def usage(self, usage: Usage) -> StreamChunk:
        return StreamChunk({**self.base, "choices": [], "usage": shapes.usage_json(usage)}, usage)


class DeclarativeAdapter:
    def __init__(self) -> None:
        self.configs = ConfigCache()

    async def _open(
        self,
        http: aiohttp.ClientSession,
        target: Target,
        compiled: Compiled,
        payload: dict[str, Any],
        *,
        streaming: bool,
    ) -> aiohttp.ClientResponse:
        return await edge.send(
            http,
            target,
            build_url(compiled, target),
            payload,
            headers=build_headers(compiled, target),
            streaming=streaming,
            method=compiled.config.http_method,
            params=build_query(compiled, target),
        )

    async def chat(
        self, http: aiohttp.ClientSession, target: Target, body: dict[str, Any]
    ) -> ChatResult:
        compiled = self.configs.get(target)
        payload = build_body(compiled, target, body, streaming=False)
        opening = self._open(http, target, compiled, payload, streaming=False)
        async with edge.edge(target, partial(_error, compiled)), await opening as response:
            raw = await response.read()
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise UpstreamError(f"{target.provider_name}: upstream reply is not JSON") from None
        text = _first_text(document, compiled.text_paths) or ""
        counts = {name: _count(document, path) for name, path in compiled.usage_paths.items()}
        usage = _usage(counts, body, text)
        message = {"role": "assistant", "content": text}
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": _finish(document, compiled) or "stop",
        }
        reply = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": target.model_id,
            "choices": [choice],
            "usage": shapes.usage_json(usage),
        }
        return ChatResult(reply, usage)

    async def stream(
        self, http: aiohttp.ClientSession, target: Target, body: dict[str, Any]
    ) -> AsyncIterator[StreamChunk]:
        compiled = self.configs.get(target)
        chunks = _Chunks(target.model_id)
        if not compiled.streams:  # no streaming rule: one call, replayed as chunks
            result = await self.chat(http, target, body)
            choice = result.body["choices"][0]
            yield chunks.delta({"role": "assistant", "content": ""})
            if choice["message"]["content"]:
                yield chunks.delta({"content": choice["message"]["content"]})
            yield chunks.delta({}, choice["finish_reason"])
            yield chunks.usage(result.usage)
            return
        payload = build_body(compiled, target, body, streaming=True)
        text: list[str] = []
        counts: dict[str, int | None] = {}
        finish: str | None = None
        opening = self._open(http, target, compiled, payload, streaming=True)
        async with edge.edge(target, partial(_error, compiled)), await opening as response:
            yield chunks.delta({"role": "assistant", "content": ""})
            async for _, data in sse.events(response.content):
                if compiled.done_marker is not None and data.strip() == compiled.done_marker:
                    break
                event = edge.loads(data)
                if event is None:
                    continue  # not JSON
                _raise_on_error_event(event, compiled, target)
                for name, path in compiled.stream_usage_paths.items():
                    if (count := _count(event, path)) is not None:
                        counts[name] = count  # the last one seen wins
                finish = _finish(event, compiled) or finish
                delta = _first_text(event, compiled.delta_paths)
                if delta:
                    text.append(delta)
                    yield chunks.delta({"content": delta})
        yield chunks.delta({}, finish or "stop")
        yield chunks.usage(_usage(counts, body, "".join(text)))

    async def embed(
        self, http: aiohttp.ClientSession, target: Target, body: dict[str, Any]
    ) -> EmbeddingResult:
        raise UpstreamBadRequest("declarative providers do not support embeddings yet")


ADAPTER = DeclarativeAdapter()
