"""OpenAI chat answers as Anthropic messages, for upstreams that do not speak Anthropic's
format: a ``chat.completion`` as a ``message`` (:func:`message`), and a stream of
``chat.completion.chunk`` objects as Anthropic's event sequence (:class:`Events`).

Content becomes a ``text`` block, each tool call a ``tool_use`` block; ``finish_reason``
becomes ``stop_reason`` by :data:`modelyard.adapters.anthropic_wire.FINISH_REASONS` read
backwards (``stop`` -> ``end_turn``, ``length`` -> ``max_tokens``, ``tool_calls`` ->
``tool_use``, ``content_filter`` -> ``refusal``). Such upstreams do not say which stop
sequence ended an answer, so they never answer ``stop_sequence``. Usage is split as
Anthropic counts it: ``input_tokens`` leaves out the cache reads and writes
(:func:`usage_json`)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import orjson

from modelyard import tokens
from modelyard.adapters.anthropic_wire import FINISH_REASONS
from modelyard.adapters.base import StreamChunk, Usage

Json = dict[str, Any]
STOP_REASONS = {v: k for k, v in reversed(FINISH_REASONS.items())} | {"function_call": "tool_use"}


def stop_reason(finish: Any) -> str:
    return STOP_REASONS.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"


def usage_json(usage: Usage) -> Json:
    """Anthropic's ``usage``: every prompt token is in exactly one of the three inputs."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    return {
        "input_tokens": usage.prompt_tokens - cached - written,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
        "output_tokens": usage.completion_tokens,
    }


def _obj(value: Any) -> Json:
    """``value`` if it is a JSON object, else an empty one (an upstream's answer is read
    leniently: a malformed part of it is left out, never a fault)."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Json]:
    """The objects in ``value`` if it is a JSON array, else none."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _input(call: Json) -> Json:
    arguments = _obj(call.get("function")).get("arguments") or "{}"
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {}


def message(completion: Json, usage: Usage, model: str, message_id: str) -> Json:
    """A ``chat.completion`` as an Anthropic ``message``."""
    choices = _list(completion.get("choices"))
    choice = choices[0] if choices else {}
    said = _obj(choice.get("message"))
    content: list[Json] = []
    text = said.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for index, call in enumerate(_list(said.get("tool_calls"))):
        name = str(_obj(call.get("function")).get("name") or "")
        ident = str(call.get("id") or f"toolu_{message_id}_{index}")
        content.append({"type": "tool_use", "id": ident, "name": name, "input": _input(call)})
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": completion.get("model") or model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": usage_json(usage),
    }


class Events:
    """Chat chunks -> Anthropic events: ``message_start``; for each text run or tool call a
    ``content_block_start``, its deltas (``text_delta``, ``input_json_delta``) and a
    ``content_block_stop``; at the end ``message_delta`` with the stop reason and usage, and
    ``message_stop``. Every delta carries a running estimate of the usage (what an
    interrupted stream is charged); the provider's own usage, when it comes, wins."""

    def __init__(self, model: str, message_id: str, prompt: int) -> None:
        self.model, self.id = model, message_id
        self.estimate = Usage(prompt, 0, estimated=True)
        self.usage: Usage | None = None  # the provider's
        self.chars = 0
        self.block = -1  # the index of the open block
        self.open: Any = None  # "text", or the tool call index of the open tool_use block
        self.tools: dict[Any, int] = {}  # tool call index -> block index
        self.finish: Any = None

    def start(self) -> StreamChunk:
        usage = usage_json(self.estimate)
        payload = {
            "type": "message_start",
            "message": {
                "id": self.id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            },
        }
        return StreamChunk(payload, self.estimate, more=True)

    def chunk(self, item: StreamChunk) -> Iterator[StreamChunk]:
        if item.usage is not None:
            self.usage = item.usage
        choices = item.chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, dict):
            return
        delta = _obj(choice.get("delta"))
        text = delta.get("content")
        if isinstance(text, str) and text:
            if self.open != "text":
                yield from self._open("text", {"type": "text", "text": ""})
            yield self._delta({"type": "text_delta", "text": text}, self.block, text)
        for call in _list(delta.get("tool_calls")):
            yield from self._tool(call)
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]

    def _tool(self, call: Json) -> Iterator[StreamChunk]:
        index = call.get("index", 0)
        index = index if type(index) is int else 0
        function = _obj(call.get("function"))
        if index not in self.tools:
            block: Json = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{self.id}_{index}",
                "name": function.get("name") or "",
                "input": {},
            }
            yield from self._open(index, block)
            self.tools[index] = self.block
        fragment = function.get("arguments")
        if isinstance(fragment, str) and fragment:
            delta = {"type": "input_json_delta", "partial_json": fragment}
            yield self._delta(delta, self.tools[index], fragment)

    def _open(self, kind: Any, block: Json) -> Iterator[StreamChunk]:
        yield from self._close()
        self.block += 1
        self.open = kind
        yield StreamChunk(
            {"type": "content_block_start", "index": self.block, "content_block": block}, more=True
        )

    def _close(self) -> Iterator[StreamChunk]:
        if self.open is not None:
            self.open = None
            yield StreamChunk({"type": "content_block_stop", "index": self.block}, more=True)

    def _delta(self, delta: Json, index: int, fragment: str) -> StreamChunk:
        self.chars += len(fragment)
        produced = math.ceil(self.chars / tokens.CHARS_PER_TOKEN)
        running = self.usage or replace(self.estimate, completion_tokens=produced)
        payload = {"type": "content_block_delta", "index": index, "delta": delta}
        return StreamChunk(payload, running)

    def end(self) -> Iterator[StreamChunk]:
        yield from self._close()
        usage = self.usage or replace(
            self.estimate, completion_tokens=math.ceil(self.chars / tokens.CHARS_PER_TOKEN)
        )
        delta = {"stop_reason": stop_reason(self.finish), "stop_sequence": None}
        payload = {"type": "message_delta", "delta": delta, "usage": usage_json(usage)}
        yield StreamChunk(payload, usage, more=True)
        yield StreamChunk({"type": "message_stop"})
