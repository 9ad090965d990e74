"""A legacy completions call (``POST /v1/completions``) on the chat pipeline: resolution,
limits, credits, retries, fallback and usage (operation ``completion``) are the chat call's.

Each candidate is asked in the way it can answer:

* natively, at its own completions endpoint (:mod:`modelyard.adapters.openai_completions`),
  when its model declares the ``completion`` capability and its provider speaks OpenAI's
  wire (the ``openai`` and ``openai_compatible`` kinds): the body as the caller sent it,
  the reply's bytes passed on;
* else through chat (:mod:`modelyard.gateway.completion_wire`): one chat request per prompt,
  sent to the same candidate together, and the answers made one ``text_completion``.

A request using what only a completions endpoint honours (``echo``, ``suffix``,
``logprobs``, ``best_of`` above 1) keeps the native candidates only; none is a 400 naming the
parameter. Several prompts count in the call's token budget and credit hold all together.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelyard import tokens
from modelyard.adapters import openai_completions as native
from modelyard.adapters.base import ChatResult, StreamChunk, Target, Usage
from modelyard.adapters.openai import OpenAIAdapter
from modelyard.adapters.shapes import usage_json
from modelyard.errors import BadRequest
from modelyard.gateway import completion_wire as wire
from modelyard.gateway import request
from modelyard.gateway.call import Call
from modelyard.gateway.intake import chat_call
from modelyard.gateway.params_completions import check_completion, native_only, prompts
from modelyard.gateway.resolve import Candidate, Resolution
from modelyard.gateway.snapshot import KeyEntry, Snapshot
from modelyard.kinds.base import adapter_for

if TYPE_CHECKING:
    from modelyard.gateway.service import Gateway

Json = dict[str, Any]


def serves_natively(candidate: Candidate) -> bool:
    """Whether ``candidate`` answers completions itself."""
    if "completion" not in candidate.model.capabilities:
        return False
    return isinstance(adapter_for(candidate.provider.kind), OpenAIAdapter)


@dataclass(slots=True)
class Completion:
    call: Call  # the chat call of the first prompt, accounting for every prompt
    body: Json  # the caller's completions request, checked
    prompts: list[str]

    async def run(self) -> ChatResult:
        """The ``text_completion`` (the upstream's bytes where it answered natively)."""
        return await self.call.run(self._attempt, lambda result: result.usage)

    async def _attempt(self, c: Candidate, target: Target, upstream: Json) -> ChatResult:
        http = self.call.gateway.pipeline.http(c)
        if serves_natively(c):
            return await native.complete(http, target, self._native(upstream))
        adapter = adapter_for(c.provider.kind)
        asks = [adapter.chat(http, target, body) for body in self._chats(upstream)]
        replies = await _together(asks)
        return wire.completion(self.call.request_id, target.model_id, replies, self._n)

    def open(self, c: Candidate, target: Target, upstream: Json) -> AsyncIterator[StreamChunk]:
        """How a candidate's stream is opened (:meth:`Call.stream`): ``text_completion``
        chunks, the usage of every prompt on one last chunk."""
        http = self.call.gateway.pipeline.http(c)
        if serves_natively(c):
            return native.stream(http, target, self._native(upstream))
        return self._translated(c, target, upstream)

    async def _translated(
        self, c: Candidate, target: Target, upstream: Json
    ) -> AsyncIterator[StreamChunk]:
        http, adapter = self.call.gateway.pipeline.http(c), adapter_for(c.provider.kind)
        request_id, usages = self.call.request_id, []
        for number, body in enumerate(self._chats(upstream)):
            reported: Usage | None = None
            chunks = adapter.stream(http, target, body)
            try:
                async for item in chunks:
                    reported = item.usage or reported
                    made = wire.chunk(request_id, target.model_id, item, number * self._n)
                    if made is not None:
                        yield StreamChunk(made)
            finally:  # the upstream request ends with this stream, however it ends
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
            if reported is not None:
                usages.append(reported)
        if len(usages) == len(self.prompts):  # else the text produced is estimated
            usage = wire.total(usages)
            last = wire.envelope(request_id, target.model_id, []) | {"usage": usage_json(usage)}
            yield StreamChunk(last, usage)

    @property
    def _n(self) -> int:
        n = self.body.get("n")
        return n if type(n) is int else 1

    def _native(self, upstream: Json) -> Json:
        """The caller's body for the upstream: its model, and the cap credits allow."""
        body = {**self.body, "model": upstream["model"]}
        if self.call.capped is not None:
            body["max_tokens"] = self._each(upstream)
        return body

    def _chats(self, upstream: Json) -> list[Json]:
        chat = {**upstream, "max_tokens": self._each(upstream)}
        return [wire.with_prompt(chat, prompt) for prompt in self.prompts]

    def _each(self, upstream: Json) -> int:
        """Each prompt's completion cap: the call's (lowered to what credits pay for) shared
        between the prompts when it was lowered."""
        cap = upstream["max_tokens"]
        if self.call.capped is not None:
            cap = max(1, self.call.capped // len(self.prompts))
        return int(cap)


async def _together(asks: list[Coroutine[Any, Any, ChatResult]]) -> list[ChatResult]:
    """Every answer in order; the first failure cancels the rest and is raised."""
    if len(asks) == 1:
        return [await asks[0]]
    tasks = [asyncio.ensure_future(ask) for ask in asks]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # none left behind


def completion_call(
    gateway: Gateway,
    snap: Snapshot,
    key: KeyEntry,
    request_id: str,
    body: Json,
    *,
    client_request_id: str | None = None,
    idempotency_key: str | None = None,
) -> Completion:
    """A completions call, ready to run: 400 for a malformed request or a parameter no
    candidate can honour, and the chat call's refusals (:func:`chat_call`)."""
    check_completion(body)
    texts = prompts(body)
    chat = wire.chat_body(body, texts[0])
    call = chat_call(
        gateway,
        snap,
        key,
        request_id,
        chat,
        client_request_id=client_request_id,
        idempotency_key=idempotency_key,
        operation="completion",
    )
    param = native_only(body)
    if param is not None:
        served = tuple(c for c in call.resolution.candidates if serves_natively(c))
        if not served:
            model = call.resolution.candidates[0].model.model_id
            raise BadRequest(
                f"{param}: not supported for model {model!r}, whose completions are made "
                "through chat; only models served by a completions endpoint (with the "
                "'completion' capability) take it",
                code="UNSUPPORTED_PARAMETER",
                details={"param": param},
            )
        call.resolution = Resolution(served, call.resolution.warning)
    if len(texts) > 1:  # the other prompts, in the rate windows and the credit hold
        more = sum(tokens.estimate_messages(wire.chat_body(body, t)["messages"]) for t in texts[1:])
        more_out = (len(texts) - 1) * chat["max_tokens"] * request.choices(chat)
        call.prompt += more
        call.budget += more + more_out
        call.worst += more + more_out
    return Completion(call, body, texts)
