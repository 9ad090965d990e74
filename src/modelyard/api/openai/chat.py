"""``POST /v1/chat/completions`` (JSON or an SSE stream) and ``POST /v1/embeddings``: one call
each through the gateway, answered with the upstream's own bytes where it spoke OpenAI's
format."""

from __future__ import annotations

import orjson

from modelyard.adapters.base import ChatResult, EmbeddingResult
from modelyard.api.openai import stream
from modelyard.api.openai.inbound import Inbound
from modelyard.api.openai.wire import response_headers
from modelyard.gateway import request
from modelyard.gateway.intake import chat_call, embedding_call


async def chat(inbound: Inbound) -> None:
    body = await inbound.json_body()
    call = chat_call(
        inbound.gateway,
        inbound.snap,
        inbound.key,
        inbound.request_id,
        body,
        client_request_id=inbound.client_id,
        idempotency_key=inbound.idempotency_key,
    )
    if request.wants_stream(body):
        await stream.run(call, body, inbound.receive, inbound.send, inbound.started)
        return
    result = await call.chat()
    await inbound.answer(encoded(result), response_headers(call, inbound.started))


async def embeddings(inbound: Inbound) -> None:
    body = await inbound.json_body()
    call = embedding_call(
        inbound.gateway,
        inbound.snap,
        inbound.key,
        inbound.request_id,
        body,
        client_request_id=inbound.client_id,
        idempotency_key=inbound.idempotency_key,
    )
    result = await call.embed()
    await inbound.answer(encoded(result), response_headers(call, inbound.started))


def encoded(result: ChatResult | EmbeddingResult) -> bytes:
    """The reply's bytes: the upstream's own where it answered in OpenAI's format."""
    return result.raw if result.raw is not None else orjson.dumps(result.body)
