"""A legacy completions request as chat, and chat's answers as ``text_completion``: the
translation for upstreams that serve chat only. No I/O.

Each prompt becomes one chat request whose one user message is the prompt; the parameters the
two APIs share go along, ``max_tokens`` with OpenAI's default of 16. Answers come back as
OpenAI's ``text_completion`` object (and its stream chunks): the choices of prompt ``p`` are
numbered ``p * n + i``, as OpenAI numbers them, ``logprobs`` is null, a finish reason chat
has and completions do not (``tool_calls``) is ``stop``.
"""

from __future__ import annotations

import time
from typing import Any

from modelyard.adapters.base import ChatResult, StreamChunk, Usage
from modelyard.adapters.shapes import usage_json
from modelyard.gateway.params_completions import max_tokens

Json = dict[str, Any]
SHARED = (
    "model",
    "temperature",
    "top_p",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "stop",
    "seed",
    "stream",
    "stream_options",
    "user",
    "logit_bias",
)
FINISH = frozenset({"stop", "length", "content_filter"})


def chat_body(body: Json, prompt: str) -> Json:
    """The chat request for one prompt of a (checked) completions request."""
    chat = {name: body[name] for name in SHARED if body.get(name) is not None}
    chat["messages"] = [{"role": "user", "content": prompt}]
    chat["max_tokens"] = max(1, max_tokens(body))  # 0 is for completions endpoints alone
    return chat


def with_prompt(chat: Json, prompt: str) -> Json:
    return {**chat, "messages": [{"role": "user", "content": prompt}]}


def _finish(reason: Any) -> str | None:
    if reason is None:
        return None
    return reason if reason in FINISH else "stop"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _index(choice: Json) -> int:
    index = choice.get("index")
    return index if type(index) is int else 0


def completion(request_id: str, model: str, replies: list[ChatResult], n: int) -> ChatResult:
    """The ``text_completion`` of one chat reply per prompt, with their usage summed."""
    choices: list[Json] = []
    for prompt, reply in enumerate(replies):
        for choice in reply.body.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            message = choice.get("message")
            choices.append(
                {
                    "text": _text(message.get("content") if isinstance(message, dict) else None),
                    "index": prompt * n + _index(choice),
                    "logprobs": None,
                    "finish_reason": _finish(choice.get("finish_reason")) or "stop",
                }
            )
    choices.sort(key=lambda c: c["index"])
    usage = total([r.usage for r in replies])
    first = replies[0].body if replies else {}
    body = {
        "id": f"cmpl-{request_id}",
        "object": "text_completion",
        "created": _created(first),
        "model": first.get("model") if isinstance(first.get("model"), str) else model,
        "choices": choices,
        "usage": usage_json(usage),
    }
    return ChatResult(body, usage)


def total(usages: list[Usage]) -> Usage:
    return Usage(
        sum(u.prompt_tokens for u in usages),
        sum(u.completion_tokens for u in usages),
        sum(u.cached_tokens for u in usages),
        cache_write_tokens=sum(u.cache_write_tokens for u in usages),
        estimated=any(u.estimated for u in usages),
    )


def _created(chat: Json) -> int:
    created = chat.get("created")
    return created if type(created) is int else int(time.time())


def chunk(request_id: str, model: str, item: StreamChunk, offset: int) -> Json | None:
    """The ``text_completion`` chunk of one chat chunk (its choices numbered from
    ``offset``); None when it carries no choice (a usage-only chunk)."""
    chat = item.chunk
    choices = []
    given = chat.get("choices")
    for choice in given if isinstance(given, list) else ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        choices.append(
            {
                "text": content if isinstance(content, str) else "",
                "index": offset + _index(choice),
                "logprobs": None,
                "finish_reason": _finish(choice.get("finish_reason")),
            }
        )
    if not choices:
        return None
    return envelope(request_id, chat.get("model") or model, choices, _created(chat))


def envelope(request_id: str, model: Any, choices: list[Json], created: int | None = None) -> Json:
    return {
        "id": f"cmpl-{request_id}",
        "object": "text_completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": choices,
    }
