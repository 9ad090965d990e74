"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens``: Anthropic's Messages API on
the gateway's calls (resolution, limits, credits, retries, fallback, one usage row noting
``"api": "messages"``).

A request is checked as Anthropic checks it (:mod:`.checks`) and translated once into a chat
body (:mod:`.to_chat`): the call is made of that (the model resolved, the prompt estimated,
the capabilities it needs, ``max_tokens`` capped to what a balance pays for). Then each
candidate is asked in its own terms (:class:`Ask`): one whose adapter speaks the Messages API
itself (:class:`~modelyard.adapters.base.MessagesAdapter`) gets the caller's body with its
model id (an answer relayed as it came, a stream event by event); any other gets the chat
body through its chat adapter, its answer translated back (:mod:`.from_chat`). A fallback
chain may mix both.

``count_tokens`` is free (no usage row), but authenticated and resolved as a call: an
Anthropic upstream counts, any other is estimated (:mod:`modelyard.tokens`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from modelyard import tokens
from modelyard.adapters.base import MessageResult, MessagesAdapter, StreamChunk, Target, Usage
from modelyard.adapters.edge import bad
from modelyard.api.anthropic import checks, from_chat, wire
from modelyard.api.anthropic.to_chat import Translated, to_chat
from modelyard.api.openai.inbound import Inbound
from modelyard.api.openai.stream import relay
from modelyard.api.openai.wire import response_headers
from modelyard.errors import ModelyardError, UpstreamError
from modelyard.gateway import entitlement, request
from modelyard.gateway.call import Call
from modelyard.gateway.intake import chat_call
from modelyard.gateway.resolve import Candidate, resolve
from modelyard.kinds.base import adapter_for

Json = dict[str, Any]


async def messages(inbound: Inbound) -> None:
    body = await inbound.json_body()
    checks.check_message(body)
    translated = to_chat(body)
    call = chat_call(
        inbound.gateway,
        inbound.snap,
        inbound.key,
        inbound.request_id,
        translated.body,
        client_request_id=inbound.client_id,
        idempotency_key=inbound.idempotency_key,
        checked=True,
        meta={"api": "messages"},
    )
    ask = Ask(call, body, translated, _beta(inbound))
    if body.get("stream"):
        await relay(
            call, inbound.receive, inbound.send, inbound.started, _encoded, b"", _told, ask.open
        )
        return
    result = await call.run(ask.attempt, _usage)
    answer = result.raw if result.raw is not None else orjson.dumps(result.body)
    await inbound.answer(answer, response_headers(call, inbound.started))


async def count_tokens(inbound: Inbound) -> None:
    body = await inbound.json_body()
    checks.check_count(body)
    translated = to_chat(body)
    snap, user = inbound.snap, inbound.key.user_id
    needs = request.chat_needs(translated.body)
    resolution = resolve(snap, user, body["model"], "chat", needs)
    plan = entitlement.billing_of(snap, user)
    if plan is not None:
        resolution = entitlement.within_plan(plan, resolution, needs)
    candidate = resolution.candidates[0]
    adapter = adapter_for(candidate.provider.kind)
    if isinstance(adapter, MessagesAdapter):
        target = snap.target(candidate.provider, candidate.model.model_id)
        http = inbound.gateway.pipeline.http(candidate)
        native = {**body, "model": target.model_id}
        counted = await adapter.count_tokens(http, target, native, _beta(inbound))
    else:
        counted = tokens.estimate_messages(translated.body["messages"])
        if translated.body.get("tools"):
            counted += tokens.estimate_text(orjson.dumps(translated.body["tools"]).decode())
    await inbound.answer(orjson.dumps({"input_tokens": counted}))


class Ask:
    """How one call's candidates are asked: natively, or through the chat translation."""

    def __init__(self, call: Call, body: Json, translated: Translated, beta: str | None) -> None:
        self.call, self.body, self.translated, self.beta = call, body, translated, beta
        self.id = "msg_" + call.request_id.removeprefix("req_")

    def _native(self, upstream: Json) -> Json:
        """The caller's body for an Anthropic upstream: its model id, ``max_tokens`` as the
        call may spend (lowered when a balance pays for fewer)."""
        return {**self.body, "model": upstream["model"], "max_tokens": upstream["max_tokens"]}

    def _translatable(self, target: Target) -> None:
        if self.translated.native_only is not None:
            raise bad(
                f"{self.translated.native_only} can only be sent to an Anthropic provider; "
                f"{target.provider_name} is not one",
                self.translated.native_only.partition(" ")[0],
            )

    async def attempt(self, c: Candidate, target: Target, upstream: Json) -> MessageResult:
        adapter = adapter_for(c.provider.kind)
        http = self.call.gateway.pipeline.http(c)
        if isinstance(adapter, MessagesAdapter):
            return await adapter.messages(http, target, self._native(upstream), self.beta)
        self._translatable(target)
        result = await adapter.chat(http, target, upstream)
        reply = from_chat.message(result.body, result.usage, target.model_id, self.id)
        return MessageResult(reply, result.usage)

    def open(self, c: Candidate, target: Target, upstream: Json) -> AsyncIterator[StreamChunk]:
        adapter = adapter_for(c.provider.kind)
        http = self.call.gateway.pipeline.http(c)
        if isinstance(adapter, MessagesAdapter):
            return adapter.messages_stream(http, target, self._native(upstream), self.beta)
        return self._translated(adapter.stream(http, target, upstream), target)

    async def _translated(
        self, chat: AsyncIterator[StreamChunk], target: Target
    ) -> AsyncIterator[StreamChunk]:
        """A chat stream as Anthropic's events; ``message_start`` only once the upstream
        sent its first chunk (until then the call may still be retried or moved on)."""
        self._translatable(target)
        chunks = chat.__aiter__()
        try:
            try:
                first = await chunks.__anext__()
            except StopAsyncIteration:
                raise UpstreamError("the provider closed the stream before any data") from None
            events = from_chat.Events(target.model_id, self.id, self.call.prompt)
            yield events.start()
            for event in events.chunk(first):
                yield event
            async for item in chunks:
                for event in events.chunk(item):
                    yield event
            for event in events.end():
                yield event
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()


def _beta(inbound: Inbound) -> str | None:
    """The caller's ``anthropic-beta`` header, for an Anthropic upstream."""
    raw = inbound.header(b"anthropic-beta")
    return raw.decode("latin-1") if raw else None


def _usage(result: MessageResult) -> Usage:
    return result.usage


def _encoded(item: StreamChunk) -> bytes:
    return wire.event_of(item.chunk, item.raw)


def _told(error: ModelyardError) -> bytes:
    return wire.event("error", wire.error_body(error.status, error.code, error.message))
