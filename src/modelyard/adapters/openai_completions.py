"""OpenAI's legacy completions endpoint (``POST /completions``: prompt in, text out), for the
models that still serve it (instruct models, and OpenAI-compatible servers that keep it).

The caller's body goes upstream as it is (the gateway has set ``model``): ``echo``,
``suffix``, ``logprobs`` and ``best_of`` are the upstream's to honour. The path is the
provider's ``chat_path`` with ``/chat/completions`` made ``/completions`` (so a vendor's
prefix is kept), else ``/completions``. Replies, streams, usage and failures are read as the
chat adapter reads them (:mod:`modelyard.adapters.openai`): the same edge, error mapping and
Server-Sent-Events parsing, the reply's bytes kept to pass on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from modelyard import tokens
from modelyard.adapters import edge, sse
from modelyard.adapters.base import ChatResult, StreamChunk, Target, Usage
from modelyard.adapters.openai import ADAPTER, _chunks, _error, usage_of

Json = dict[str, Any]
CHAT_SUFFIX = "/chat/completions"
COMPLETIONS_PATH = "/completions"


def path(target: Target) -> str:
    chat = target.config.get("chat_path")
    if isinstance(chat, str) and chat.endswith(CHAT_SUFFIX):
        return chat[: -len(CHAT_SUFFIX)] + COMPLETIONS_PATH
    return COMPLETIONS_PATH


def _prompt_tokens(body: Json) -> int:
    prompt = body.get("prompt")
    texts = [prompt] if isinstance(prompt, str) else prompt if isinstance(prompt, list) else []
    return sum(tokens.estimate_text(t) for t in texts if isinstance(t, str))


def _estimate(body: Json, reply: Json) -> Usage:
    """The usage of a reply that reported none: estimated from the prompts and the texts."""
    choices = reply.get("choices")
    produced = "".join(
        c["text"]
        for c in (choices if isinstance(choices, list) else ())
        if isinstance(c, dict) and isinstance(c.get("text"), str)
    )
    return Usage(_prompt_tokens(body), tokens.estimate_text(produced), estimated=True)


async def complete(http: aiohttp.ClientSession, target: Target, body: Json) -> ChatResult:
    """One ``text_completion``, as the upstream sent it."""
    document, raw = await ADAPTER._call(http, target, path(target), body)
    usage = usage_of(document.get("usage")) or _estimate(body, document)
    return ChatResult(document, usage, raw)


async def stream(
    http: aiohttp.ClientSession, target: Target, body: Json
) -> AsyncIterator[StreamChunk]:
    """``text_completion`` chunks as the upstream sent them; usage always asked for."""
    options = body.get("stream_options")
    options = options if isinstance(options, dict) else {}
    payload = {**body, "stream": True, "stream_options": {**options, "include_usage": True}}
    async with (
        edge.edge(target, _error),
        await ADAPTER._post(http, target, path(target), payload, streaming=True) as response,
    ):
        async for batch in sse.raw_batches(response.content):
            chunks, end = _chunks(batch, target)
            for item in chunks:
                yield item
            if isinstance(end, Exception):
                raise end
            if end:
                return
