"""Ollama's native API (``/api/chat``, ``/api/embed``) behind OpenAI's shapes.

Ollama streams newline-delimited JSON, not SSE: one object per line, the last one with
``"done": true`` carrying ``done_reason`` and the token counts. Errors are
``{"error": "..."}`` bodies (also as a line mid-stream). No auth header is sent unless the
provider has a key (Ollama behind an authenticating proxy), then it goes as a Bearer token.
Translation lives in :mod:`.ollama_wire`; calls go through the shared :mod:`.edge`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from modelyard import tokens
from modelyard.adapters import edge, shapes
from modelyard.adapters import ollama_wire as wire
from modelyard.adapters.base import (
    ChatResult,
    EmbeddingResult,
    StreamChunk,
    Target,
    Usage,
)
from modelyard.errors import UpstreamError

Json = dict[str, Any]


def _error(failure: edge.Failure, target: Target) -> UpstreamError:
    """An ``{"error": "..."}`` reply as a domain error (404 "model not found" is the
    caller's bad request)."""
    error = failure.body.get("error") if isinstance(failure.body, dict) else None
    message = edge.describe(target, failure.status, error)
    return edge.from_status(failure.status, message, failure.retry_after)


async def _lines(content: aiohttp.StreamReader) -> AsyncIterator[Json]:
    """NDJSON objects; lines are split here rather than by ``readline`` so a long line (a
    large tool call) never hits aiohttp's line limit."""
    buffer = b""
    async for data in content.iter_any():
        buffer += data
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if (document := _object(line)) is not None:
                yield document
    if (document := _object(buffer)) is not None:
        yield document


def _object(line: bytes) -> Json | None:
    """A line's object; a keep-alive or a broken line is skipped, as SSE readers do."""
    document = edge.loads(line) if line.strip() else None
    return document if isinstance(document, dict) else None


class OllamaAdapter:
    async def _post(
        self,
        http: aiohttp.ClientSession,
        target: Target,
        path: str,
        payload: Json,
        *,
        streaming: bool = False,
    ) -> aiohttp.ClientResponse:
        headers = {**target.headers, "Content-Type": "application/json"}
        if target.api_key:
            headers["Authorization"] = f"Bearer {target.api_key}"
        url = f"{target.base_url}{path}"
        return await edge.send(http, target, url, payload, headers=headers, streaming=streaming)

    async def _call(
        self, http: aiohttp.ClientSession, target: Target, path: str, payload: Json
    ) -> Json:
        async with (
            edge.edge(target, _error),
            await self._post(http, target, path, payload) as reply,
        ):
            raw = await reply.read()
        return edge.json_object(raw, target)

    async def list_models(self, http: aiohttp.ClientSession, target: Target) -> list[str]:
        """``GET /api/tags``: the names of the models the server holds."""
        headers = dict(target.headers)
        if target.api_key:
            headers["Authorization"] = f"Bearer {target.api_key}"
        url = f"{target.base_url}/api/tags"
        async with (
            edge.edge(target, _error),
            await edge.send(http, target, url, None, headers=headers, method="GET") as reply,
        ):
            raw = await reply.read()
        listed = edge.json_object(raw, target).get("models")
        items = listed if isinstance(listed, list) else []
        return [str(m["name"]) for m in items if isinstance(m, dict) and "name" in m]

    def _request(self, target: Target, body: Json, *, stream: bool) -> Json:
        keep_alive = target.config.get("keep_alive")
        return wire.build_request(target.model_id, body, stream=stream, keep_alive=keep_alive)

    async def chat(self, http: aiohttp.ClientSession, target: Target, body: Json) -> ChatResult:
        document = await self._call(
            http, target, "/api/chat", self._request(target, body, stream=False)
        )
        message = document.get("message") or {}
        text = message.get("content") or ""
        calls = wire.tool_calls(message)
        answer: Json = {"role": "assistant", "content": text if text or not calls else None}
        if calls:
            answer["tool_calls"] = calls
        usage = wire.usage(document, shapes.estimate(body, text))
        choice = {
            "index": 0,
            "message": answer,
            "logprobs": None,
            "finish_reason": wire.finish_reason(document.get("done_reason"), bool(calls)),
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
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> AsyncIterator[StreamChunk]:
        payload = self._request(target, body, stream=True)
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": target.model_id,
        }

        def chunk(delta: Json, finish: str | None = None) -> StreamChunk:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return StreamChunk({**base, "choices": [choice]})

        text: list[str] = []
        calls = 0
        final: Json = {}
        async with (
            edge.edge(target, _error),
            await self._post(http, target, "/api/chat", payload, streaming=True) as reply,
        ):
            yield chunk({"role": "assistant", "content": ""})
            async for line in _lines(reply.content):
                if isinstance(line.get("error"), str):
                    raise edge.stream_failed(target, line["error"])
                message = line.get("message") or {}
                if message.get("content"):
                    text.append(message["content"])
                    yield chunk({"content": message["content"]})
                for call in wire.tool_calls(message):
                    yield chunk({"tool_calls": [{"index": calls, **call}]})
                    calls += 1
                if line.get("done"):
                    final = line
                    break
        yield chunk({}, wire.finish_reason(final.get("done_reason"), calls > 0))
        usage = wire.usage(final, shapes.estimate(body, "".join(text)))
        yield StreamChunk({**base, "choices": [], "usage": shapes.usage_json(usage)}, usage)

    async def embed(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> EmbeddingResult:
        inputs = body.get("input")
        if not (isinstance(inputs, str) or (isinstance(inputs, list) and inputs)):
            raise edge.bad("input must be a string or a non-empty list of strings", "input")
        payload: Json = {"model": target.model_id, "input": inputs}
        if body.get("dimensions"):
            payload["dimensions"] = body["dimensions"]
        if target.config.get("keep_alive") is not None:
            payload["keep_alive"] = target.config["keep_alive"]
        document = await self._call(http, target, "/api/embed", payload)
        encoding = body.get("encoding_format")
        data = [
            {"object": "embedding", "index": i, "embedding": shapes.embedding(values, encoding)}
            for i, values in enumerate(document.get("embeddings") or ())
        ]
        counted = document.get("prompt_eval_count")
        estimated = tokens.estimate_inputs(inputs)
        usage = (
            Usage(counted, 0) if isinstance(counted, int) else Usage(estimated, 0, estimated=True)
        )
        reply = {
            "object": "list",
            "data": data,
            "model": target.model_id,
            "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
        }
        return EmbeddingResult(reply, usage)


ADAPTER = OllamaAdapter()
