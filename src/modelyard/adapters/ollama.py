"""Ollama's native API (``/api/chat``, ``/api/embed``) behind OpenAI's shapes.

Ollama streams newline-delimited JSON, not SSE: one object per line, the last one with
``"done": true`` carrying ``done_reason`` and the token counts. Errors are
``{"error": "..."}`` bodies (also as a line mid-stream). No auth header is sent unless the
provider has a key (Ollama behind an authenticating proxy), then it goes as a Bearer token.
Translation lives in :mod:`.ollama_wire`.
"""

from __future__ import annotations

import base64
import sys
import time
import uuid
from array import array
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

from modelyard import tokens
from modelyard.adapters import ollama_wire as wire
from modelyard.adapters.base import (
    ChatResult,
    EmbeddingResult,
    StreamChunk,
    Target,
    Usage,
)
from modelyard.adapters.edge import from_status, parse_retry_after
from modelyard.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable

Json = dict[str, Any]
ERROR_BODY_LIMIT = 64 * 1024


class _Status(Exception):
    """A non-2xx reply, raised inside :func:`_edge` and mapped there."""

    def __init__(self, status: int, raw: bytes, retry_after: str | None) -> None:
        self.status, self.raw, self.retry_after = status, raw, retry_after


def _redact(text: str, target: Target) -> str:
    return text.replace(target.api_key, "***") if target.api_key else text


def _error_text(raw: bytes) -> str | None:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    error = document.get("error") if isinstance(document, dict) else None
    return error[:500] if isinstance(error, str) else None


@asynccontextmanager
async def _edge(target: Target) -> AsyncIterator[None]:
    """Every upstream failure becomes a domain error here (404 "model not found" is the
    caller's bad request); messages never carry the key, and chaining is cut."""
    name = target.provider_name
    try:
        yield
    except _Status as failure:
        message = f"{name}: upstream returned HTTP {failure.status}"
        detail = _error_text(failure.raw)
        message = _redact(f"{message}: {detail}" if detail else message, target)
        raise from_status(failure.status, message, parse_retry_after(failure.retry_after)) from None
    except TimeoutError:
        raise UpstreamTimeout(f"{name}: upstream did not answer in time") from None
    except aiohttp.ClientError as exc:
        detail = _redact(f"{type(exc).__name__}: {exc}", target)
        raise UpstreamUnavailable(f"{name}: cannot reach upstream ({detail})") from None


def _usage_json(usage: Usage) -> Json:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


def _embedding(values: list[float], encoding: Any) -> list[float] | str:
    if encoding != "base64":
        return values
    packed = array("f", values)  # OpenAI's base64 form: little-endian float32
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode()


def _estimate(body: Json, text: str) -> Usage:
    messages = body.get("messages")
    prompt = tokens.estimate_messages(messages) if isinstance(messages, list) else 0
    return Usage(prompt, tokens.estimate_text(text), estimated=True)


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
    try:
        document = orjson.loads(line) if line.strip() else None
    except orjson.JSONDecodeError:
        return None  # a keep-alive or a broken line is skipped, as SSE readers do
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
        timeout = aiohttp.ClientTimeout(total=target.timeout_s)
        if streaming:  # a stream may run long; only silence between lines is a timeout
            timeout = aiohttp.ClientTimeout(
                sock_connect=target.timeout_s, sock_read=target.timeout_s
            )
        headers = {**target.headers, "Content-Type": "application/json"}
        if target.api_key:
            headers["Authorization"] = f"Bearer {target.api_key}"
        response = await http.post(
            f"{target.base_url}{path}",
            data=orjson.dumps(payload),
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        )
        if response.status >= 300:
            async with response:
                raw = await response.content.read(ERROR_BODY_LIMIT)
            raise _Status(response.status, raw, response.headers.get("Retry-After"))
        return response

    async def _call(
        self, http: aiohttp.ClientSession, target: Target, path: str, payload: Json
    ) -> Json:
        async with _edge(target), await self._post(http, target, path, payload) as reply:
            raw = await reply.read()
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            document = None
        if not isinstance(document, dict):
            raise UpstreamError(f"{target.provider_name}: upstream reply is not a JSON object")
        return document

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
        usage = wire.usage(document, _estimate(body, text))
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
            "usage": _usage_json(usage),
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
            _edge(target),
            await self._post(http, target, "/api/chat", payload, streaming=True) as reply,
        ):
            yield chunk({"role": "assistant", "content": ""})
            async for line in _lines(reply.content):
                if isinstance(line.get("error"), str):
                    detail = _redact(line["error"][:500], target)
                    raise UpstreamError(f"{target.provider_name}: upstream stream failed: {detail}")
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
        usage = wire.usage(final, _estimate(body, "".join(text)))
        yield StreamChunk({**base, "choices": [], "usage": _usage_json(usage)}, usage)

    async def embed(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> EmbeddingResult:
        inputs = body.get("input")
        if not (isinstance(inputs, str) or (isinstance(inputs, list) and inputs)):
            raise wire.bad("input must be a string or a non-empty list of strings", "input")
        payload: Json = {"model": target.model_id, "input": inputs}
        if body.get("dimensions"):
            payload["dimensions"] = body["dimensions"]
        if target.config.get("keep_alive") is not None:
            payload["keep_alive"] = target.config["keep_alive"]
        document = await self._call(http, target, "/api/embed", payload)
        encoding = body.get("encoding_format")
        data = [
            {"object": "embedding", "index": i, "embedding": _embedding(values, encoding)}
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
