"""Google Gemini (``generateContent``, ``streamGenerateContent?alt=sse``,
``batchEmbedContents``) behind OpenAI's chat-completions and embeddings shapes.

The key travels in the ``x-goog-api-key`` header, never in the query string, so it cannot
land in a URL, a log line or an aiohttp error. Requests are translated in :mod:`.gemini_wire`
and replies in :mod:`.gemini_reply`; this module sends them through the shared :mod:`.edge`,
maps failures with :func:`_error` and relays the event stream (role first, then deltas,
finishes, and usage last).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp

from modelyard import tokens
from modelyard.adapters import edge, shapes, sse
from modelyard.adapters import gemini_reply as replies
from modelyard.adapters import gemini_wire as wire
from modelyard.adapters.base import (
    ChatResult,
    EmbeddingResult,
    StreamChunk,
    Target,
    Usage,
)
from modelyard.errors import (
    RateLimited,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
)

Json = dict[str, Any]
AUTH_STATUSES = {"PERMISSION_DENIED", "UNAUTHENTICATED"}
BAD_REQUEST_STATUSES = {"INVALID_ARGUMENT", "FAILED_PRECONDITION", "NOT_FOUND", "OUT_OF_RANGE"}
RETRY_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def _error_object(document: Any) -> Json:
    """``error`` of Gemini's error document, or ``{}``."""
    if isinstance(document, list) and document:  # some proxies wrap errors in a list
        document = document[0]
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, dict) else {}


def _error(failure: edge.Failure, target: Target) -> UpstreamError:
    """Gemini's ``{"error": {"code", "message", "status", "details"}}`` as a domain error.
    A rejected key comes back as 400 INVALID_ARGUMENT with reason API_KEY_INVALID: that is
    an auth failure (try the next provider), not the caller's bad request."""
    status, error = failure.status, _error_object(failure.body)
    grpc = error.get("status")
    message = edge.describe(target, status, error.get("message"), grpc)
    details = [d for d in error.get("details") or () if isinstance(d, dict)]
    delay = next((d["retryDelay"] for d in details if "retryDelay" in d), "")
    match = RETRY_DELAY.match(str(delay))
    retry_after = failure.retry_after or (float(match[1]) if match else None)
    if status == 429 or grpc == "RESOURCE_EXHAUSTED":
        return RateLimited(message, upstream_status=status, retry_after=retry_after)
    if grpc in AUTH_STATUSES or any(d.get("reason") == "API_KEY_INVALID" for d in details):
        return UpstreamAuthFailed(message, upstream_status=status)
    if grpc in BAD_REQUEST_STATUSES:
        return UpstreamBadRequest(message, upstream_status=status)
    return edge.from_status(status, message, retry_after)


def _model_path(target: Target) -> str:
    """``models/<id>``; ids that already name a collection (``tunedModels/x``) stay as given."""
    model = target.model_id if "/" in target.model_id else f"models/{target.model_id}"
    return quote(model, safe="/")


class GeminiAdapter:
    async def _post(
        self,
        http: aiohttp.ClientSession,
        target: Target,
        method: str,
        payload: Json,
        *,
        streaming: bool = False,
    ) -> aiohttp.ClientResponse:
        headers = {**target.headers, "Content-Type": "application/json"}
        if target.api_key:
            headers["x-goog-api-key"] = target.api_key
        url = f"{target.base_url}/{_model_path(target)}:{method}"
        params = {"alt": "sse"} if streaming else None
        return await edge.send(
            http, target, url, payload, headers=headers, streaming=streaming, params=params
        )

    async def list_models(self, http: aiohttp.ClientSession, target: Target) -> list[str]:
        """``GET /models``: the models the key may use (their first page; a connection
        test's call), without the ``models/`` prefix."""
        headers = dict(target.headers)
        if target.api_key:
            headers["x-goog-api-key"] = target.api_key
        url = f"{target.base_url}/models"
        async with (
            edge.edge(target, _error),
            await edge.send(http, target, url, None, headers=headers, method="GET") as response,
        ):
            raw = await response.read()
        listed = edge.json_object(raw, target).get("models")
        items = listed if isinstance(listed, list) else []
        names = (str(m["name"]) for m in items if isinstance(m, dict) and "name" in m)
        return [name.removeprefix("models/") for name in names]

    async def _call(
        self, http: aiohttp.ClientSession, target: Target, method: str, payload: Json
    ) -> Json:
        async with (
            edge.edge(target, _error),
            await self._post(http, target, method, payload) as response,
        ):
            raw = await response.read()
        return edge.json_object(raw, target)

    async def chat(self, http: aiohttp.ClientSession, target: Target, body: Json) -> ChatResult:
        document = await self._call(http, target, "generateContent", wire.build_request(body))
        candidates = document.get("candidates") or []
        choices = [replies.choice(c, i) for i, c in enumerate(candidates)] or [
            replies.blocked_choice()
        ]
        text = "".join(c["message"]["content"] or "" for c in choices)
        usage, reasoning = replies.usage(document.get("usageMetadata")) or (
            shapes.estimate(body, text),
            0,
        )
        response_id = document.get("responseId") or uuid.uuid4().hex
        reply = {
            "id": f"chatcmpl-{response_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": target.model_id,
            "choices": choices,
            "usage": shapes.usage_json(usage, reasoning),
        }
        return ChatResult(reply, usage)

    async def stream(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> AsyncIterator[StreamChunk]:
        payload = wire.build_request(body)
        state = replies.Stream(target.model_id)
        opening = self._post(http, target, "streamGenerateContent", payload, streaming=True)
        async with edge.edge(target, _error), await opening as response:
            for chunk in state.start(0):  # the role chunk, as soon as the call is accepted
                yield chunk
            async for _, data in sse.events(response.content):
                document = edge.loads(data)
                if isinstance(document, dict) and isinstance(document.get("error"), dict):
                    code = document["error"].get("code")
                    raise edge.Failure(code if isinstance(code, int) else 500, document)
                if isinstance(document, dict):
                    for chunk in state.event(document):
                        yield chunk
        for chunk in state.end(body):
            yield chunk

    async def embed(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> EmbeddingResult:
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else inputs
        if (
            not inputs
            or not isinstance(inputs, list)
            or not all(isinstance(t, str) for t in inputs)
        ):
            raise edge.bad("input must be a string or a non-empty list of strings", "input")
        model = _model_path(target)
        extra = {"outputDimensionality": body["dimensions"]} if body.get("dimensions") else {}
        requests = [{"model": model, "content": {"parts": [{"text": t}]}, **extra} for t in inputs]
        document = await self._call(http, target, "batchEmbedContents", {"requests": requests})
        encoding = body.get("encoding_format")
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": shapes.embedding(e.get("values", []), encoding),
            }
            for i, e in enumerate(document.get("embeddings") or ())
        ]
        usage = Usage(tokens.estimate_inputs(inputs), 0, estimated=True)
        reply = {
            "object": "list",
            "data": data,
            "model": target.model_id,
            "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
        }
        return EmbeddingResult(reply, usage)


ADAPTER = GeminiAdapter()
