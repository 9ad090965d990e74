"""A chat completions stream as the Responses API's typed events.

:func:`events` reads an adapter's chat chunks and yields the event sequence the official SDKs
parse: ``response.created`` and ``response.in_progress`` (only once the upstream has sent its
first chunk, so that retries and fallbacks happen before anything reaches the client), then
per output item ``response.output_item.added``, for a message ``response.content_part.added``,
``response.output_text.delta`` ... ``response.output_text.done``,
``response.content_part.done``, for a tool call ``response.function_call_arguments.delta`` ...
``.done``, each item closed by ``response.output_item.done``; last ``response.completed`` (or
``response.incomplete`` at the token limit) carrying the whole response and its usage, on a
chunk whose ``usage`` is set. Sequence numbers are the relay's (it numbers what it sends).
The events of one chunk are marked ``more`` but the last (unless the upstream's chunk was),
so the relay writes them as the upstream's reads arrive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from modelyard import tokens
from modelyard.adapters import responses_wire as wire
from modelyard.adapters.base import StreamChunk, Usage

Json = dict[str, Any]


class _Items:
    """The output items being produced, in order, and the events that open and close them."""

    def __init__(self) -> None:
        self.output: list[Json] = []
        self.message: Json | None = None  # the open message item
        self.calls: dict[int, Json] = {}  # chat tool call index -> its function_call item
        self.finish: Any = None  # the chat finish reason

    def text(self, delta: str) -> list[Json]:
        events: list[Json] = []
        if self.message is None:
            item = self.message = wire.message_item("", "in_progress")
            item["content"] = []
            index = len(self.output)
            self.output.append(item)
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            events.append(_added(index, item))
            events.append(
                {
                    "type": "response.content_part.added",
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "part": dict(part),
                }
            )
            item["content"].append(part)
        item = self.message
        item["content"][0]["text"] += delta
        events.append(
            {
                "type": "response.output_text.delta",
                "item_id": item["id"],
                "output_index": self.output.index(item),
                "content_index": 0,
                "delta": delta,
                "logprobs": [],
            }
        )
        return events

    def choice(self, choice: Json) -> list[Json]:
        """The events for one chunk's first choice."""
        events: list[Json] = []
        delta = wire.obj(choice.get("delta"))
        content = delta.get("content")
        if isinstance(content, str) and content:
            events += self.text(content)
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else ():
            if isinstance(call, dict):
                events += self.call(call)
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]
        return events

    def call(self, delta: Json) -> list[Json]:
        events: list[Json] = []
        position = delta.get("index", 0)
        position = position if type(position) is int else 0
        function = wire.obj(delta.get("function"))
        item = self.calls.get(position)
        if item is None:
            call_id = str(delta.get("id") or wire.item_id("call"))
            item = wire.call_item(call_id, str(function.get("name") or ""), "", "in_progress")
            self.calls[position] = item
            self.output.append(item)
            events.append(_added(len(self.output) - 1, item))
        elif isinstance(function.get("name"), str) and not item["name"]:
            item["name"] = function["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item["arguments"] += arguments
            events.append(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item["id"],
                    "output_index": self.output.index(item),
                    "delta": arguments,
                }
            )
        return events

    def close(self) -> list[Json]:
        """The events that end every item still open."""
        events: list[Json] = []
        for index, item in enumerate(self.output):
            item["status"] = "completed"
            if item["type"] == "message":
                part = item["content"][0]
                common = {"item_id": item["id"], "output_index": index, "content_index": 0}
                events.append(
                    {"type": "response.output_text.done", **common, "text": part["text"]}
                    | {"logprobs": []}
                )
                events.append({"type": "response.content_part.done", **common, "part": part})
            else:
                events.append(
                    {
                        "type": "response.function_call_arguments.done",
                        "item_id": item["id"],
                        "output_index": index,
                        "name": item["name"],
                        "arguments": item["arguments"],
                    }
                )
            events.append(
                {"type": "response.output_item.done", "output_index": index, "item": item}
            )
        return events


def _added(index: int, item: Json) -> Json:
    return {"type": "response.output_item.added", "output_index": index, "item": dict(item)}


async def events(
    chunks: AsyncIterator[StreamChunk], response: Json, prompt: int
) -> AsyncIterator[StreamChunk]:
    """The Responses events for a chat stream; ``response`` is the skeleton (its id, the
    request's settings) that the lifecycle events carry; ``prompt`` the estimated prompt
    tokens, should the upstream report no usage."""
    items = _Items()
    usage: Usage | None = None
    reasoning = 0
    started = False
    async for chunk in chunks:
        out: list[Json] = []
        if not started:
            started = True
            out.append({"type": "response.created", "response": dict(response)})
            out.append({"type": "response.in_progress", "response": dict(response)})
        if chunk.usage is not None:
            usage = chunk.usage
            reasoning = wire.reasoning_of(chunk.chunk.get("usage"))
        choices = chunk.chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                out += items.choice(choice)
        for index, event in enumerate(out):  # written when the upstream's read is
            yield StreamChunk(event, more=chunk.more or index < len(out) - 1)
    if not started:
        return
    finish = items.finish
    for event in items.close():
        yield StreamChunk(event, more=True)
    final = dict(response)
    final["output"] = items.output
    wire.finished(final, finish)
    if usage is None:  # no usage reported: an estimate of what was produced
        produced = "".join(
            item["content"][0]["text"] if item["type"] == "message" else item["arguments"]
            for item in items.output
        )
        usage = Usage(prompt, tokens.estimate_text(produced), estimated=True)
    final["usage"] = wire.response_usage(usage, reasoning)
    kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    yield StreamChunk({"type": kind, "response": final}, usage)
