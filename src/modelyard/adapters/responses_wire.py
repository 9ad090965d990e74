"""OpenAI's Responses API in the gateway's inner language, chat completions, and back.

:func:`input_items` makes a request's ``input`` a list of items; :func:`chat_body` turns a
Responses request (its context already expanded: earlier turns' items first) into a chat
completions body any adapter takes; :func:`response_of` turns the chat answer into a
``response`` object: a ``message`` item with ``output_text`` (or ``refusal``), one
``function_call`` item per tool call, ``usage`` in the Responses names, ``status``
``incomplete`` with ``incomplete_details`` when the answer hit its token limit.
:func:`usage_of` reads a Responses ``usage`` object (an OpenAI upstream's own answer).
"""

from __future__ import annotations

import time
from typing import Any

from modelyard import ids
from modelyard.adapters.base import Usage

Json = dict[str, Any]

ROLES = ("user", "assistant", "system", "developer")
# Parameters whose meaning is the same on both APIs.
SAME = ("temperature", "top_p", "user", "stream")


def obj(value: Any) -> Json:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def item_id(prefix: str) -> str:
    """A fresh output item id: ``msg_...``, ``fc_...``."""
    return f"{prefix}_{ids.request_id()[4:]}"


def count(value: Any) -> int:
    """A token count an upstream reported: a positive integer, else 0."""
    return value if type(value) is int and value > 0 else 0


def input_items(value: Any) -> list[Json]:
    """``input`` as items: a string is one user message."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value) if isinstance(value, list) else []


def as_input(output: Any) -> list[Json]:
    """A response's output items as input items of the next turn (messages and function
    calls; what only an OpenAI upstream understands, reasoning, is kept for it). An item an
    upstream sent without the fields its type needs is left out: stored as it came, it is
    read again only as the next turn's context."""
    items = output if isinstance(output, list) else []
    return [item for item in items if isinstance(item, dict) and _well_formed(item)]


def _well_formed(item: Json) -> bool:
    kind = item.get("type")
    if kind == "message":
        content = item.get("content")
        return item.get("role") in ROLES and isinstance(content, str | list)
    if kind == "function_call":
        return all(isinstance(item.get(k), str) for k in ("call_id", "name", "arguments"))
    if kind == "function_call_output":
        output = item.get("output")
        return isinstance(item.get("call_id"), str) and isinstance(output, str | list)
    return isinstance(kind, str) and bool(kind)


def chat_body(body: Json, items: list[Json]) -> Json:
    """The chat completions body for a Responses request whose whole context is ``items``."""
    out: Json = {"model": body.get("model"), "messages": _messages(body, items)}
    for name in SAME:
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("max_output_tokens") is not None:
        out["max_tokens"] = body["max_output_tokens"]
    _tools(body, out)
    form = obj(body.get("text")).get("format")
    if isinstance(form, dict) and form.get("type") == "json_object":
        out["response_format"] = {"type": "json_object"}
    elif isinstance(form, dict) and form.get("type") == "json_schema":
        schema = {k: form[k] for k in ("name", "schema", "strict", "description") if k in form}
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    effort = obj(body.get("reasoning")).get("effort")
    if isinstance(effort, str):
        out["reasoning_effort"] = effort
    return out


def _tools(body: Json, out: Json) -> None:
    """Function tools and the choice among them, in chat's shape."""
    tools = [
        {"type": "function", "function": _function(tool)}
        for tool in body.get("tools") or ()
        if tool.get("type") == "function"
    ]
    if not tools:
        return
    out["tools"] = tools
    if body.get("parallel_tool_calls") is not None:
        out["parallel_tool_calls"] = body["parallel_tool_calls"]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif choice is not None:
        out["tool_choice"] = choice


def _function(tool: Json) -> Json:
    keys = ("name", "description", "parameters", "strict")
    return {k: tool[k] for k in keys if tool.get(k) is not None}


def _messages(body: Json, items: list[Json]) -> list[Json]:
    messages: list[Json] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    for item in items:
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            messages.append(_message(item))
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item["output"]
            text = output if isinstance(output, str) else _text_of(output)
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": text})
    return messages


def _message(item: Json) -> Json:
    role = "system" if item["role"] == "developer" else item["role"]
    content = item["content"]
    if isinstance(content, str):
        return {"role": role, "content": content}
    if role != "user":  # assistant and system turns: their text
        return {"role": role, "content": _text_of(content)}
    parts: list[Json] = []
    for part in (p for p in content if isinstance(p, dict)):
        if part.get("type") == "input_image":
            image: Json = {"url": part["image_url"]}
            if part.get("detail"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        else:
            parts.append({"type": "text", "text": part.get("text") or part.get("refusal", "")})
    return {"role": role, "content": parts}


def _text_of(parts: list[Any]) -> str:
    return "".join(
        str(p.get("text") or p.get("refusal") or "") for p in parts if isinstance(p, dict)
    )


def response_usage(usage: Usage, reasoning: int = 0) -> Json:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": usage.total_tokens,
    }


def usage_of(raw: Any) -> Usage | None:
    """Usage from a Responses ``usage`` object, or None when there is none."""
    if not isinstance(raw, dict) or not isinstance(raw.get("input_tokens"), int):
        return None
    cached = obj(raw.get("input_tokens_details")).get("cached_tokens")
    return Usage(count(raw["input_tokens"]), count(raw.get("output_tokens")), count(cached))


def skeleton(response_id: str, body: Json, model: str, status: str = "in_progress") -> Json:
    """A response object with no output yet, echoing the request's settings."""
    text = obj(body.get("text"))
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "model": model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": body.get("store", True) is not False,
        "temperature": body.get("temperature"),
        "text": {"format": {"type": "text"}} | text,
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p"),
        "truncation": body.get("truncation") or "disabled",
        "usage": None,
        "user": body.get("user"),
    }


def message_item(text: str, status: str = "completed", *, refusal: bool = False) -> Json:
    part: Json = (
        {"type": "refusal", "refusal": text}
        if refusal
        else {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    )
    return {
        "type": "message",
        "id": item_id("msg"),
        "status": status,
        "role": "assistant",
        "content": [part],
    }


def call_item(call_id: str, name: str, arguments: str, status: str = "completed") -> Json:
    return {
        "type": "function_call",
        "id": item_id("fc"),
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def response_of(response_id: str, body: Json, chat: Json, usage: Usage, model: str) -> Json:
    """The ``response`` object for a chat completion answering ``body``."""
    response = skeleton(response_id, body, chat.get("model") or model, "completed")
    choices = chat.get("choices")
    choice = obj(choices[0]) if isinstance(choices, list) and choices else {}
    message = obj(choice.get("message"))
    output: list[Json] = []
    if isinstance(message.get("content"), str) and message["content"]:
        output.append(message_item(message["content"]))
    elif isinstance(message.get("refusal"), str) and message["refusal"]:
        output.append(message_item(message["refusal"], refusal=True))
    calls = message.get("tool_calls")
    for call in (obj(c) for c in calls) if isinstance(calls, list) else ():
        function = obj(call.get("function"))
        output.append(
            call_item(
                str(call.get("id") or item_id("call")),
                str(function.get("name") or ""),
                str(function.get("arguments") or ""),
            )
        )
    response["output"] = output
    finished(response, choice.get("finish_reason"))
    response["usage"] = response_usage(usage, reasoning_of(chat.get("usage")))
    return response


def reasoning_of(usage: Any) -> int:
    """The reasoning tokens a chat ``usage`` object reports, else 0."""
    found = obj(obj(usage).get("completion_tokens_details")).get("reasoning_tokens")
    return found if isinstance(found, int) and found > 0 else 0


def finished(response: Json, finish_reason: Any) -> None:
    """``status`` from the chat answer's finish reason: ``incomplete`` at the token limit,
    ``content_filter`` likewise, else ``completed``."""
    if finish_reason == "length":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    elif finish_reason == "content_filter":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "content_filter"}
    else:
        response["status"] = "completed"
