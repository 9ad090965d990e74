"""OpenAI's chat completions and embeddings, and every server that speaks them.

One adapter for the ``openai`` and ``openai_compatible`` kinds (Groq, DeepSeek, OpenRouter,
Together, vLLM, Ollama's ``/v1`` ...): the vendor differences are configuration (base URL,
``chat_path``, ``embeddings_path``, custom headers), not code. The caller's body goes
upstream unchanged, unknown fields included; the gateway has already set ``model``.

Streams always ask for usage (``stream_options.include_usage``): the chunk that carries it
comes back as a :class:`StreamChunk` with ``usage`` set, and the API layer forwards that
chunk only if the caller asked for it. A stream that ends without usage (a server that
ignores the option) yields nothing extra; the call is then charged an estimate of what was
produced.

Failures become domain errors at the shared edge (:mod:`.edge`), mapped by :func:`_error`:
messages carry the provider name, the status and the upstream ``error.message`` (at most 500
characters, the key redacted), never the key itself or the whole upstream body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from modelyard import tokens
from modelyard.adapters import edge, responses_wire, shapes, sse
from modelyard.adapters.base import ChatResult, EmbeddingResult, StreamChunk, Target, Usage
from modelyard.errors import UpstreamError, UpstreamUnavailable

Json = dict[str, Any]
CHAT_PATH = "/chat/completions"
RESPONSES_PATH = "/responses"
RESPONSES_ENDS = ("response.completed", "response.incomplete", "response.failed")
EMBEDDINGS_PATH = "/embeddings"
MODELS_PATH = "/models"
DONE = b"[DONE]"


def _error_of(document: Any) -> Json:
    """``error`` of OpenAI's ``{"error": {"message", "type", "param", "code"}}``, or ``{}``."""
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, str):  # some compatible servers send {"error": "text"}
        return {"message": error}
    return error if isinstance(error, dict) else {}


def _error(failure: edge.Failure, target: Target) -> UpstreamError:
    """A reply of 300 or more, or an error event naming one (``error.code``), as a domain
    error; OpenAI's ``retry-after-ms`` wins over the standard ``Retry-After``."""
    error = _error_of(failure.body)
    message = edge.describe(target, failure.status, error.get("message"))
    millis = edge.parse_retry_after(failure.headers.get("retry-after-ms"))
    retry_after = millis / 1000 if millis is not None else failure.retry_after
    domain = edge.http_error(failure.status, message, retry_after)
    if isinstance(error.get("param"), str):
        domain.details["param"] = edge.redact(error["param"], target)
    return domain


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
    return shapes.estimate(body, _produced(reply))


def _chunks(
    batch: list[tuple[str | None, bytes]], target: Target
) -> tuple[list[StreamChunk], bool | Exception]:
    """The chunks of one read of a stream (all but the last marked ``more``), and whether the
    stream ends after them: ``True`` at ``[DONE]``, the failure an error event raises.

    Each event is parsed (one that is not a JSON object is skipped) and keeps the bytes that
    came as ``raw`` when they are one line, so a relay can forward them as they are."""
    chunks: list[StreamChunk] = []
    end: bool | Exception = False
    for _, received in batch:
        data = received.strip()
        if data == DONE:
            end = True
            break
        chunk = edge.loads(data)
        if not isinstance(chunk, dict):
            continue  # a broken event is skipped
        if chunk.get("error") is not None:  # what came before it still counts
            error = _error_of(chunk)
            code = error.get("code")
            if isinstance(code, int) and code >= 400:
                end = edge.Failure(code, chunk)
            else:
                end = edge.stream_failed(target, error.get("message"))
            break
        raw = data if b"\n" not in data and b"\r" not in data else None
        chunks.append(StreamChunk(chunk, usage_of(chunk.get("usage")), more=True, raw=raw))
    if chunks:
        chunks[-1].more = False
    return chunks, end


def _headers(target: Target) -> dict[str, str]:
    headers = {**target.headers, "Content-Type": "application/json"}
    if target.api_key:
        headers["Authorization"] = f"Bearer {target.api_key}"
    if target.organization:
        headers["OpenAI-Organization"] = target.organization
    if project := target.config.get("project"):
        headers["OpenAI-Project"] = str(project)
    return headers


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
        headers = target.memo.get("openai-headers")
        if headers is None:
            headers = target.memo["openai-headers"] = _headers(target)
        url = f"{target.base_url}{path}"
        return await edge.send(http, target, url, payload, headers=headers, streaming=streaming)

    async def _call(
        self, http: aiohttp.ClientSession, target: Target, path: str, payload: Json
    ) -> tuple[Json, bytes]:
        async with (
            edge.edge(target, _error),
            await self._post(http, target, path, payload) as response,
        ):
            raw = await response.read()
        return edge.json_object(raw, target), raw

    async def list_models(self, http: aiohttp.ClientSession, target: Target) -> list[str]:
        """``GET /models``: the ids of ``data[]`` (a connection test's call)."""
        headers = target.memo.get("openai-headers")
        if headers is None:
            headers = target.memo["openai-headers"] = _headers(target)
        url = f"{target.base_url}{MODELS_PATH}"
        async with (
            edge.edge(target, _error),
            await edge.send(http, target, url, None, headers=headers, method="GET") as response,
        ):
            raw = await response.read()
        listed = edge.json_object(raw, target).get("data")
        items = listed if isinstance(listed, list) else []
        return [str(m["id"]) for m in items if isinstance(m, dict) and "id" in m]

    async def chat(self, http: aiohttp.ClientSession, target: Target, body: Json) -> ChatResult:
        path = target.config.get("chat_path") or CHAT_PATH
        document, raw = await self._call(http, target, path, body)
        usage = usage_of(document.get("usage")) or _estimate_chat(body, document)
        return ChatResult(document, usage, raw)

    async def stream(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> AsyncIterator[StreamChunk]:
        options = body.get("stream_options")
        options = options if isinstance(options, dict) else {}
        payload = {**body, "stream": True, "stream_options": {**options, "include_usage": True}}
        path = target.config.get("chat_path") or CHAT_PATH
        async with (
            edge.edge(target, _error),
            await self._post(http, target, path, payload, streaming=True) as response,
        ):
            async for batch in sse.raw_batches(response.content):
                chunks, end = _chunks(batch, target)
                for item in chunks:
                    yield item
                if isinstance(end, Exception):
                    raise end
                if end:
                    return

    async def embed(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> EmbeddingResult:
        path = target.config.get("embeddings_path") or EMBEDDINGS_PATH
        document, raw = await self._call(http, target, path, body)
        usage = usage_of(document.get("usage")) or Usage(
            tokens.estimate_inputs(body.get("input")), 0, estimated=True
        )
        return EmbeddingResult(document, usage, raw)

    async def responses(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> tuple[Json, Usage]:
        """A Responses API request sent as it is to the upstream's ``/responses``
        (``responses_path``): its response object and usage (estimated when it has none)."""
        path = target.config.get("responses_path") or RESPONSES_PATH
        document, _raw = await self._call(http, target, path, body)
        usage = responses_wire.usage_of(document.get("usage"))
        if usage is None:
            usage = shapes.estimate({"messages": []}, _output_text(document))
        return document, usage

    async def responses_stream(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> AsyncIterator[StreamChunk]:
        """The upstream's Responses events, each a :class:`StreamChunk` (``usage`` set on
        the one that ends the response); an ``error`` event fails the stream."""
        path = target.config.get("responses_path") or RESPONSES_PATH
        payload = {**body, "stream": True}
        finished = False
        async with (
            edge.edge(target, _error),
            await self._post(http, target, path, payload, streaming=True) as response,
        ):
            async for batch in sse.raw_batches(response.content):
                for _, received in batch:
                    event = edge.loads(received.strip())
                    if not isinstance(event, dict) or received.strip() == DONE:
                        continue
                    if event.get("type") == "error":
                        raise edge.stream_failed(target, event.get("message"))
                    finished = finished or event.get("type") in RESPONSES_ENDS
                    ended = responses_wire.obj(event.get("response"))
                    usage = responses_wire.usage_of(ended.get("usage"))
                    yield StreamChunk(event, usage)
        if not finished:  # cut short: the caller is told, not left waiting for the end
            name = target.provider_name
            raise UpstreamUnavailable(f"{name}: the stream ended before the response did")


def _output_text(document: Json) -> str:
    """The text a response object produced (message text and function call arguments)."""
    parts: list[str] = []
    for item in document.get("output") or ():
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("arguments"), str):
            parts.append(item["arguments"])
        for part in item.get("content") or ():
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
    return "".join(parts)


ADAPTER = OpenAIAdapter()
