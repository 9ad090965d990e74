"""The ``fake`` kind: deterministic OpenAI-shaped replies with no network, for demos and tests.

What it does is the provider's :class:`FakeConfig`:
a fixed reply (or the last user message, with ``echo``), streamed as ``stream_chunks``
content deltas; usage as configured or estimated with :mod:`modelyard.tokens`
(then marked estimated); embeddings of ``embedding_dims`` floats derived from a SHA-256 of
each input, so equal inputs embed equally; a wait of ``latency_ms``; and, when
``fail_with`` is set, the matching domain error for the first ``fail_times`` calls of each
provider (counted in this adapter instance, so a process restart starts over), then success.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import struct
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from modelyard import tokens
from modelyard.adapters import shapes
from modelyard.adapters.base import ChatResult, EmbeddingResult, StreamChunk, Target, Usage
from modelyard.errors import (
    RateLimited,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

Json = dict[str, Any]
MAX_DIMS = 8192
FAILURES: dict[str, tuple[type[UpstreamError], int | None]] = {
    "rate_limited": (RateLimited, 429),
    "timeout": (UpstreamTimeout, None),
    "unavailable": (UpstreamUnavailable, 503),
    "auth": (UpstreamAuthFailed, 401),
    "bad_request": (UpstreamBadRequest, 400),
}


class FakeConfig(BaseModel):
    """A ``fake`` provider's config: its replies, usage and failures."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reply: str = Field(default="This is a fake reply.", description="the assistant's reply")
    echo: bool = Field(default=False, description="reply with the last user message instead")
    prompt_tokens: int | None = Field(
        default=None, ge=0, description="reported prompt tokens; None estimates them"
    )
    completion_tokens: int | None = Field(
        default=None, ge=0, description="reported completion tokens; None estimates them"
    )
    stream_chunks: int = Field(default=3, ge=1, description="content deltas a stream sends")
    fail_with: Literal["rate_limited", "timeout", "unavailable", "auth", "bad_request"] | None = (
        Field(default=None, description="the failure the first fail_times calls raise")
    )
    fail_times: int = Field(default=0, ge=0, description="calls that fail before one succeeds")
    latency_ms: int = Field(default=0, ge=0, description="wait before answering")
    embedding_dims: int = Field(default=8, ge=1, le=8192, description="floats per embedding")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _reply(config: FakeConfig, body: Json) -> str:
    if config.echo:
        users = [m for m in body.get("messages") or () if isinstance(m, dict)]
        users = [m for m in users if m.get("role") == "user"]
        if users:
            return _text(users[-1].get("content"))
    return config.reply


def _usage(config: FakeConfig, body: Json, completion_text: str) -> Usage:
    prompt, completion = config.prompt_tokens, config.completion_tokens
    estimate = shapes.prompt_estimate(body)
    return Usage(
        estimate if prompt is None else prompt,
        tokens.estimate_text(completion_text) if completion is None else completion,
        estimated=prompt is None or completion is None,
    )


def _pieces(text: str, count: int) -> list[str]:
    """``text`` cut into ``count`` nearly equal non-empty pieces (fewer if it is shorter)."""
    size = len(text)
    cuts = [i * size // count for i in range(count + 1)]
    return [text[a:b] for a, b in itertools.pairwise(cuts) if b > a]


def vector(text: str, dims: int) -> list[float]:
    """A unit vector of ``dims`` floats, a pure function of ``text``."""
    blocks = math.ceil(dims / 8)  # one SHA-256 gives eight 32-bit words
    digest = b"".join(hashlib.sha256(f"{i}:{text}".encode()).digest() for i in range(blocks))
    words = struct.unpack(f"<{blocks * 8}I", digest)[:dims]
    values = [w / 2**31 - 1.0 for w in words]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class FakeAdapter:
    def __init__(self) -> None:
        self._calls: dict[str, int] = {}
        self._serial = itertools.count(1)

    async def _begin(self, target: Target) -> FakeConfig:
        """Count the call, wait the latency, then fail if this call is one that should."""
        config = FakeConfig.model_validate(target.config)
        calls = self._calls[target.provider_id] = self._calls.get(target.provider_id, 0) + 1
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        if config.fail_with is not None and calls <= config.fail_times:
            error, status = FAILURES[config.fail_with]
            message = f"{target.provider_name}: fake {config.fail_with} failure"
            message += f" (call {calls} of {config.fail_times} that fail)"
            retry_after = 0.0 if error is RateLimited else None
            raise error(message, upstream_status=status, retry_after=retry_after)
        return config

    def _base(self, target: Target, kind: str) -> Json:
        return {
            "id": f"chatcmpl-fake-{next(self._serial)}",
            "object": kind,
            "created": int(time.time()),
            "model": target.model_id,
        }

    async def chat(self, http: aiohttp.ClientSession, target: Target, body: Json) -> ChatResult:
        config = await self._begin(target)
        text = _reply(config, body)
        usage = _usage(config, body, text)
        message = {"role": "assistant", "content": text, "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        reply: Json = {**self._base(target, "chat.completion"), "choices": [choice]}
        reply["usage"] = shapes.usage_json(usage)
        return ChatResult(reply, usage)

    async def stream(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> AsyncIterator[StreamChunk]:
        config = await self._begin(target)
        text = _reply(config, body)
        base = self._base(target, "chat.completion.chunk")

        def chunk(delta: Json, finish: str | None = None) -> StreamChunk:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return StreamChunk({**base, "choices": [choice]})

        yield chunk({"role": "assistant", "content": ""})
        for piece in _pieces(text, config.stream_chunks):
            yield chunk({"content": piece})
        yield chunk({}, "stop")
        usage = _usage(config, body, text)
        yield StreamChunk({**base, "choices": [], "usage": shapes.usage_json(usage)}, usage)

    async def embed(
        self, http: aiohttp.ClientSession, target: Target, body: Json
    ) -> EmbeddingResult:
        config = await self._begin(target)
        inputs = body.get("input")
        if not (isinstance(inputs, str) or (isinstance(inputs, list) and inputs)):
            message = f"{target.provider_name}: input must be a string or a non-empty list"
            raise UpstreamBadRequest(message, upstream_status=400, details={"param": "input"})
        items = [inputs] if isinstance(inputs, str) else inputs
        asked = body.get("dimensions")
        dims = asked if isinstance(asked, int) and 0 < asked <= MAX_DIMS else config.embedding_dims
        encoding = body.get("encoding_format")
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": shapes.embedding(vector(str(x), dims), encoding),
            }
            for i, x in enumerate(items)
        ]
        prompt = config.prompt_tokens
        usage = Usage(
            tokens.estimate_inputs(inputs) if prompt is None else prompt,
            0,
            estimated=prompt is None,
        )
        reply: Json = {"object": "list", "data": data, "model": target.model_id}
        reply["usage"] = {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens}
        return EmbeddingResult(reply, usage)


ADAPTER = FakeAdapter()
