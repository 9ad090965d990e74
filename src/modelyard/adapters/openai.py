"""OpenAI's chat completions and embeddings, and every server that speaks them.

One adapter for the ``openai`` and ``openai_compatible`` kinds (Groq, DeepSeek, OpenRouter,
Together, vLLM, Ollama's ``/v1`` ...): the vendor differences are configuration (base URL,
``chat_path``, ``embeddings_path``, custom headers), not code. The caller's body goes
upstream unchanged, unknown fields included; the gateway has already set ``model``.

Streams always ask for usage (``stream_options.include_usage``): the chunk that carries it
comes back as a :class:`StreamChunk` with ``usage`` set, and the API layer forwards that
chunk only if the caller asked for it. A stream that ends without usage (a server that
ignores the option) yields nothing extra; the pipeline then estimates from what was produced.

Failures become domain errors in :func:`_edge` alone. Messages carry the provider name, the
status and the upstream ``error.message`` (at most 500 characters, the key redacted), never
the key itself or the whole upstream body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

from modelyard import tokens
from modelyard.adapters import sse
from modelyard.adapters.base import ChatResult, EmbeddingResult, StreamChunk, Target, Usage
from modelyard.adapters.edge import from_status, parse_retry_after
from modelyard.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable

Json = dict[str, Any]
CHAT_PATH = "/chat/completions"
EMBEDDINGS_PATH = "/embeddings"
ERROR_BODY_LIMIT = 64 * 1024
MESSAGE_LIMIT = 500
DONE = "[DONE]"


class _Status(Exception):
    """A non-2xx reply, or an error event mid-stream (``status`` None when it names none);
    raised inside :func:`_edge` and mapped there."""

    def __init__(self, status: int | None, error: Json, retry_after: float | None = None) -> None:
        self.status, self.error, self.retry_after = status, error, retry_after


@asynccontextmanager
async def _edge(target: Target) -> AsyncIterator[None]:
    """Every upstream failure becomes a domain error here, with chaining cut so no aiohttp
    error (or upstream body) rides along."""
    name, key = target.provider_name, target.api_key

    def redact(text: str) -> str:
        return text.replace(key, "***") if key else text

    try:
        yield
    except _Status as failure:
        status, error = failure.status, failure.error
        text = error.get("message")
        detail = f": {redact(text[:MESSAGE_LIMIT])}" if isinstance(text, str) and text else ""
        if status is None:
            raise UpstreamError(f"{name}: upstream stream failed{detail}") from None
        message = f"{name}: upstream returned HTTP {status}{detail}"
        if status < 400:  # not followed: it would carry the key elsewhere
            message += ", a redirect: check the provider's base_url"
            raise UpstreamError(message, upstream_status=status) from None
        domain = from_status(status, message, failure.retry_after)
        if isinstance(error.get("param"), str):
            domain.details["param"] = redact(error["param"])
        raise domain from None
    except TimeoutError:  # asyncio's, and aiohttp's ServerTimeoutError / ConnectionTimeoutError
        raise UpstreamTimeout(f"{name}: upstream did not answer in time") from None
    except aiohttp.ClientError as exc:  # refused, reset, disconnected, truncated body ...
        detail = redact(f"{type(exc).__name__}: {exc}")
        raise UpstreamUnavailable(f"{name}: cannot reach upstream ({detail})") from None


def _loads(raw: bytes | str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _error_of(document: Any) -> Json:
    """``error`` of OpenAI's ``{"error": {"message", "type", "param", "code"}}``, or ``{}``."""
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, str):  # some compatible servers send {"error": "text"}
        return {"message": error}
    return error if isinstance(error, dict) else {}


def _retry_after(headers: Any) -> float | None:
    """OpenAI's ``retry-after-ms`` when present, else the standard ``Retry-After``."""
    millis = parse_retry_after(headers.get("retry-after-ms"))
    return millis / 1000 if millis is not None else parse_retry_after(headers.get("Retry-After"))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_of(raw: Any) -> Usage | None:
    """Usage from an OpenAI ``usage`` object, or None when it reports none."""
    if not isinstance(raw, dict) or not isinstance(raw.get("prompt_tokens"), int):
        return None
    details = raw.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if cached is None:  # DeepSeek reports cache hits in its own field
        cached = raw.get("prompt_cache_hit_tokens")
    return Usage(_int(raw["prompt_tokens"]), _int(raw.get("completion_tokens")), _int(cached))


def _produced(reply: Json) -> str:
    """The text a reply produced: every choice's content and tool calls."""
    parts: list[str] = []
    for choice in reply.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        parts.append(message.get("content") or "")
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                parts += (str(function.get("name", "")), str(function.get("arguments", "")))
    return "".join(p for p in parts if isinstance(p, str))


def _estimate_chat(body: Json, reply: Json) -> Usage:
    messages = body.get("messages")
    prompt = tokens.estimate_messages(messages) if isinstance(messages, list) else 0
    return Usage(prompt, tokens.estimate_text(_produced(reply)), estimated=True)


def _json(raw: bytes, target: Target) -> Json:
    document = _loads(raw)
    if not isinstance(document, dict):
        raise UpstreamError(f"{target.provider_name}: upstream reply is not a JSON object")
    return document


class OpenAIAdapter:
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
        if target.organization:
            headers["OpenAI-Organization"] = target.organization
        if project := target.config.get("project"):
            headers["OpenAI-Project"] = str(project)
        timeout = aiohttp.ClientTimeout(total=target.timeout_s)
        if streaming:  # a stream may run long; only silence between reads is a timeout
            timeout = aiohttp.ClientTimeout(
                sock_connect=target.timeout_s, sock_read=target.timeout_s
            )
        response = await http.post(
            f"{target.base_url}{path}",
            data=orjson.dumps(payload),
            headers=headers,
            timeout=timeout,
            allow_redirects=False,  # a redirect would carry the key elsewhere
        )
        if response.status >= 300:
            async with response:
                raw = await response.content.read(ERROR_BODY_LIMIT)
            error = _error_of(_loads(raw))
            raise _Status(response.status, error, _retry_after(response.headers))
        return response

    async def _call(
        self, http: aiohttp.ClientSession, target: Target, path: str, payload: Json
    ) -> Json:
        async with _edge(target), await self._post(http, target, path, payload) as response:
            raw = await response.read()
        return _json(raw, target)

    async def chat(self, http: aiohttp.ClientSession, target: Target, body: Json) -> ChatResult:
        path = target.config.get("chat_path") or CHAT_PATH
        document = await self._call(http, target, path, body)
        usage = usage_of(document.get("usage")) or _estimate_chat(body, document)
        return ChatResult(document, usage)

    async def stream(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> AsyncIterator[StreamChunk]:
        options = body.get("stream_options")
        options = options if isinstance(options, dict) else {}
        payload = {**body, "stream": True, "stream_options": {**options, "include_usage": True}}
        path = target.config.get("chat_path") or CHAT_PATH
        async with (
            _edge(target),
            await self._post(http, target, path, payload, streaming=True) as response,
        ):
            async for _, data in sse.events(response.content):
                if data == DONE:
                    return
                chunk = _loads(data)
                if not isinstance(chunk, dict):
                    continue  # a broken event is skipped
                if chunk.get("error") is not None:
                    error = _error_of(chunk)
                    code = error.get("code")
                    raise _Status(code if isinstance(code, int) and code >= 400 else None, error)
                yield StreamChunk(chunk, usage_of(chunk.get("usage")))

    async def embed(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> EmbeddingResult:
        path = target.config.get("embeddings_path") or EMBEDDINGS_PATH
        document = await self._call(http, target, path, body)
        usage = usage_of(document.get("usage")) or Usage(
            tokens.estimate_inputs(body.get("input")), 0, estimated=True
        )
        return EmbeddingResult(document, usage)


ADAPTER = OpenAIAdapter()
