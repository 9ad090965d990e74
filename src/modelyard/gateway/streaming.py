"""A streamed call after its first chunk: relayed chunk by chunk, settled once at the end.

The call (:class:`modelyard.gateway.call.Call`) was admitted and attempted until its first
chunk arrived; :class:`Stream` hands the chunks on, keeps the usage the provider reports
(else the text produced, for an estimate) and settles the call in :meth:`Stream.finish`,
which the relay calls on every exit: the end, a failure, or a caller that went away.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from modelyard import tokens
from modelyard.adapters.base import StreamChunk, Usage

if TYPE_CHECKING:
    from modelyard.gateway.call import Call

log = logging.getLogger("modelyard.gateway")


class Stream:
    """A stream in flight: relays chunks, keeps the usage the provider reported (else what
    was produced, for an estimate) and settles its call once, in :meth:`finish`."""

    __slots__ = ("call", "first", "rest", "text", "usage")

    def __init__(self, call: Call, first: StreamChunk, rest: AsyncIterator[StreamChunk]) -> None:
        self.call, self.first, self.rest = call, first, rest
        self.usage: Usage | None = None
        self.text: list[str] = []

    async def chunks(self) -> AsyncIterator[StreamChunk]:
        try:
            yield self._seen(self.first)
            async for chunk in self.rest:
                yield self._seen(chunk)
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop reading the upstream (cancels its request if the caller stopped early)."""
        aclose = getattr(self.rest, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:  # the relay is over either way; the call still settles
                log.warning(
                    "closing an upstream stream failed (request %s)",
                    self.call.request_id,
                    exc_info=True,
                )

    def _seen(self, item: StreamChunk) -> StreamChunk:
        if item.usage is not None:
            self.usage = item.usage
        elif self.usage is None:  # what was produced, in case no usage comes
            choices = item.chunk.get("choices")
            for choice in choices if isinstance(choices, list) else ():
                delta = choice.get("delta") if isinstance(choice, dict) else None
                content = delta.get("content") if isinstance(delta, dict) else None
                if delta is None and isinstance(choice, dict):  # a text_completion chunk
                    content = choice.get("text")
                if isinstance(content, str):
                    self.text.append(content)
                if self.call.trace is not None and isinstance(choice, dict):
                    self.call.trace.finished(choice.get("finish_reason"))
        return item

    def finish(self, status: str, code: str | None = None) -> None:
        """Settle the call: what the provider reported, else an estimate of what was
        produced (an aborted stream is charged for what it produced, no more)."""
        usage = self.usage
        try:
            if usage is None and (self.text or status == "aborted"):
                produced = tokens.estimate_text("".join(self.text))
                usage = Usage(self.call.prompt, produced, estimated=True)
        finally:  # settled (and all it holds released) even if the estimate failed
            self.call.settle(usage, status, code)
