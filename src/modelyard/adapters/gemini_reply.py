"""Gemini replies -> OpenAI shapes: ``chat.completion`` choices, stream chunks and usage.

A function call's ``thoughtSignature`` reaches the caller as
``tool_calls[].extra_content.google.thought_signature``, Google's own OpenAI-compatible
convention, so a caller that echoes the assistant message sends it back (see
:mod:`.gemini_wire`). Thought summaries (parts with ``thought: true``) are not answer text.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson

from modelyard.adapters import shapes
from modelyard.adapters.base import StreamChunk, Usage

Json = dict[str, Any]
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    **dict.fromkeys(
        ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"),
        "content_filter",
    ),
}


def finish_reason(reason: str | None, tool_calls: bool) -> str:
    mapped = FINISH_REASONS.get(reason or "STOP", "stop")
    return "tool_calls" if tool_calls and mapped == "stop" else mapped


def tool_call(part: Json) -> Json:
    call = part["functionCall"]
    tool: Json = {
        "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {
            "name": call.get("name", ""),
            "arguments": orjson.dumps(call.get("args") or {}).decode(),
        },
    }
    if part.get("thoughtSignature"):
        tool["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return tool


def answer_parts(candidate: Json) -> list[Json]:
    """The parts that answer: thought summaries (``thought: true``) are left out."""
    parts = (candidate.get("content") or {}).get("parts") or ()
    return [p for p in parts if isinstance(p, dict) and not p.get("thought")]


def choice(candidate: Json, position: int) -> Json:
    parts = answer_parts(candidate)
    text = "".join(p["text"] for p in parts if isinstance(p.get("text"), str))
    calls = [tool_call(p) for p in parts if isinstance(p.get("functionCall"), dict)]
    message: Json = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return {
        "index": candidate.get("index", position),
        "message": message,
        "logprobs": None,
        "finish_reason": finish_reason(candidate.get("finishReason"), bool(calls)),
    }


def blocked_choice() -> Json:
    """Gemini answers a blocked prompt with ``promptFeedback`` and no candidates."""
    message = {"role": "assistant", "content": None}
    return {"index": 0, "message": message, "logprobs": None, "finish_reason": "content_filter"}


def usage(metadata: Any) -> tuple[Usage, int] | None:
    """``(usage, reasoning tokens)`` from ``usageMetadata``. Thinking and tool-use prompt
    tokens are billed by Google, so they count as completion and prompt tokens."""
    if not isinstance(metadata, dict) or "promptTokenCount" not in metadata:
        return None
    prompt = metadata["promptTokenCount"] + metadata.get("toolUsePromptTokenCount", 0)
    thoughts = metadata.get("thoughtsTokenCount", 0)
    completion = metadata.get("candidatesTokenCount", 0) + thoughts
    return Usage(prompt, completion, metadata.get("cachedContentTokenCount", 0)), thoughts


class Stream:
    """Gemini stream events -> OpenAI ``chat.completion.chunk`` objects sharing one id."""

    def __init__(self, model: str) -> None:
        self.base = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        self.started: list[int] = []
        self.calls: dict[int, int] = {}
        self.finish: dict[int, str | None] = {}
        self.text: list[str] = []
        self.metadata: Any = None
        self.blocked = False

    def delta(self, index: int, delta: Json, finish: str | None = None) -> StreamChunk:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return StreamChunk({**self.base, "choices": [choice]})

    def start(self, index: int) -> Iterator[StreamChunk]:
        if index not in self.started:
            self.started.append(index)
            yield self.delta(index, {"role": "assistant", "content": ""})

    def event(self, document: Json) -> Iterator[StreamChunk]:
        for position, candidate in enumerate(document.get("candidates") or ()):
            index = candidate.get("index", position)
            yield from self.start(index)
            for part in answer_parts(candidate):
                if isinstance(part.get("text"), str) and part["text"]:
                    self.text.append(part["text"])
                    yield self.delta(index, {"content": part["text"]})
                elif isinstance(part.get("functionCall"), dict):
                    call = {"index": self.calls.get(index, 0), **tool_call(part)}
                    self.calls[index] = call["index"] + 1
                    yield self.delta(index, {"tool_calls": [call]})
            self.finish[index] = candidate.get("finishReason") or self.finish.get(index)
        self.metadata = document.get("usageMetadata") or self.metadata
        self.blocked = self.blocked or bool(
            (document.get("promptFeedback") or {}).get("blockReason")
        )

    def end(self, body: Json) -> Iterator[StreamChunk]:
        for index in self.started:
            reason = self.finish.get(index) or ("SAFETY" if self.blocked else None)
            yield self.delta(index, {}, finish_reason(reason, index in self.calls))
        counted, reasoning = usage(self.metadata) or (shapes.estimate(body, "".join(self.text)), 0)
        chunk = {**self.base, "choices": [], "usage": shapes.usage_json(counted, reasoning)}
        yield StreamChunk(chunk, counted)
