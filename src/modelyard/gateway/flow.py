"""A call from request body to result, the same for HTTP and in-process callers: read what the
request needs, resolve candidates, run the pipeline, record usage (and metrics)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from modelyard import tokens
from modelyard.adapters.base import ChatResult, EmbeddingResult, StreamChunk, Usage
from modelyard.errors import ModelyardError
from modelyard.gateway import entitlement as billing
from modelyard.gateway import request as calls
from modelyard.gateway.resolve import Resolution, resolve
from modelyard.gateway.service import CallInfo, Gateway
from modelyard.gateway.snapshot import KeyEntry, Snapshot


@dataclass
class Prepared:
    call: CallInfo
    resolution: Resolution
    budget: int  # most tokens the call may use: the prompt estimate plus the completion cap
    prompt: int


def prepare_chat(
    gateway: Gateway, snap: Snapshot, key: KeyEntry, request_id: str, body: dict[str, Any]
) -> Prepared:
    needs = calls.chat_needs(body)
    plan = billing.billing_of(snap, key.user_id)
    resolution = resolve(snap, key.user_id, calls.requested_model(body), "chat", needs)
    if plan is not None:
        resolution = billing.within_plan(plan, resolution, needs)
    prompt = calls.prompt_estimate(body, "chat")
    budget = prompt + calls.max_completion(body, resolution.candidates[0].model.max_output_tokens)
    operation = "function_call" if body.get("tools") or body.get("functions") else "chat"
    call = gateway.begin(request_id, key, operation)
    call.billing = plan
    return Prepared(call, resolution, budget, prompt)


async def chat(
    gateway: Gateway, snap: Snapshot, prepared: Prepared, body: dict[str, Any]
) -> ChatResult:
    try:
        await gateway.admit(prepared.call, snap, prepared.resolution, prepared.budget)
        result = await gateway.pipeline.chat(
            snap, prepared.resolution, body, prepared.budget, prepared.call.attempted
        )
    except ModelyardError as exc:
        gateway.record(snap, prepared.call, None, "error", exc.code)
        raise
    gateway.record(snap, prepared.call, result.usage, "ok")
    return result


async def embeddings(
    gateway: Gateway, snap: Snapshot, key: KeyEntry, request_id: str, body: dict[str, Any]
) -> tuple[EmbeddingResult, Prepared]:
    needs = calls.embedding_needs(body)
    plan = billing.billing_of(snap, key.user_id)
    resolution = resolve(snap, key.user_id, calls.requested_model(body), "embedding", needs)
    if plan is not None:
        resolution = billing.within_plan(plan, resolution, needs)
    prompt = calls.prompt_estimate(body, "embedding")
    prepared = Prepared(gateway.begin(request_id, key, "embedding"), resolution, prompt, prompt)
    prepared.call.billing = plan
    try:
        await gateway.admit(prepared.call, snap, resolution, prompt)
        result = await gateway.pipeline.embed(
            snap, resolution, body, prompt, prepared.call.attempted
        )
    except ModelyardError as exc:
        gateway.record(snap, prepared.call, None, "error", exc.code)
        raise
    gateway.record(snap, prepared.call, result.usage, "ok")
    return result, prepared


class Streamed:
    """A stream in flight: relays chunks, remembers usage and produced text, records once."""

    def __init__(self, gateway: Gateway, snap: Snapshot, prepared: Prepared) -> None:
        self.gateway, self.snap, self.prepared = gateway, snap, prepared
        self.usage: Usage | None = None
        self.text: list[str] = []
        self.recorded = False

    async def open(self, body: dict[str, Any]) -> AsyncIterator[StreamChunk]:
        """Retries and fallbacks happen here, before the first chunk; then the chunks."""
        try:
            await self.gateway.admit(
                self.prepared.call, self.snap, self.prepared.resolution, self.prepared.budget
            )
            first, rest = await self.gateway.pipeline.stream(
                self.snap,
                self.prepared.resolution,
                body,
                self.prepared.budget,
                self.prepared.call.attempted,
            )
        except ModelyardError as exc:
            self.finish("error", exc.code)
            raise
        call = self.prepared.call
        call.ttft_ms = int((time.perf_counter() - call.started) * 1000)
        return self._chunks(first, rest)

    async def _chunks(
        self, first: StreamChunk, rest: AsyncIterator[StreamChunk]
    ) -> AsyncIterator[StreamChunk]:
        try:
            yield self._seen(first)
            async for chunk in rest:
                yield self._seen(chunk)
        finally:
            aclose = getattr(rest, "aclose", None)
            if aclose is not None:
                await aclose()  # cancels the upstream request if the caller stopped early

    def _seen(self, item: StreamChunk) -> StreamChunk:
        if item.usage is not None:
            self.usage = item.usage
        for choice in item.chunk.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if isinstance(content, str):
                self.text.append(content)
        return item

    def finish(self, status: str, code: str | None = None) -> None:
        """Record the call once: what the provider reported, else what was produced."""
        if self.recorded:
            return
        self.recorded = True
        usage = self.usage
        if usage is None and (self.text or status == "aborted"):
            usage = Usage(
                self.prepared.prompt, tokens.estimate_text("".join(self.text)), estimated=True
            )
        self.gateway.record(self.snap, self.prepared.call, usage, status, code)
