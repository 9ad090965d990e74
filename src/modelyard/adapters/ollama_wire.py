"""OpenAI chat-completions <-> Ollama's native ``/api/chat``: the translation, no I/O.

Ollama messages carry plain string ``content`` with images as a separate list of base64
strings (it cannot fetch URLs, so only data: URLs are accepted). Tool calls carry their
arguments as a JSON object rather than a string, and a tool result names its function in
``tool_name`` (looked up from the caller's earlier tool call id).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from modelyard.adapters.base import Usage
from modelyard.adapters.edge import bad

Json = dict[str, Any]
OPTIONS = {"temperature": "temperature", "top_p": "top_p", "seed": "seed"}
FINISH_REASONS = {"stop": "stop", "length": "length"}


def build_request(model: str, body: Json, *, stream: bool, keep_alive: Any = None) -> Json:
    if (body.get("n") or 1) != 1:
        raise bad("Ollama returns one choice per call; n must be 1", "n")
    request: Json = {"model": model, "messages": _messages(body.get("messages")), "stream": stream}
    options = _options(body)
    if options:
        request["options"] = options
    response_format = body.get("response_format") or {"type": "text"}
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        request["format"] = "json"
    elif kind == "json_schema":
        request["format"] = (response_format.get("json_schema") or {}).get("schema")
    elif kind != "text":
        raise bad(f"response_format type {kind!r} is not supported", "response_format")
    if body.get("tools"):
        request["tools"] = body["tools"]  # Ollama takes OpenAI's tool definitions as they are
    if keep_alive is not None:
        request["keep_alive"] = keep_alive
    return request


def _options(body: Json) -> Json:
    options = {name: body[key] for key, name in OPTIONS.items() if body.get(key) is not None}
    limit = body.get("max_completion_tokens")
    limit = body.get("max_tokens") if limit is None else limit
    if limit is not None:
        options["num_predict"] = limit
    stop = body.get("stop")
    if stop:
        options["stop"] = [stop] if isinstance(stop, str) else list(stop)
    return options


def _messages(messages: Any) -> list[Json]:
    if not isinstance(messages, list) or not messages:
        raise bad("messages must be a non-empty list", "messages")
    names: dict[str, str] = {}  # tool call id -> function name, for the tool results
    out: list[Json] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("system", "developer", "user", "assistant", "tool"):
            raise bad(f"{where}.role {role!r} is not supported", f"{where}.role")
        text, images = _content(message.get("content"), f"{where}.content")
        item: Json = {"role": "system" if role == "developer" else role, "content": text}
        if images:
            item["images"] = images
        if role == "assistant" and message.get("tool_calls"):
            item["tool_calls"] = _tool_calls(message["tool_calls"], names, where)
        if role == "tool":
            item["tool_name"] = _tool_name(message, names, where)
        out.append(item)
    return out


def _content(content: Any, where: str) -> tuple[str, list[str]]:
    if content is None or isinstance(content, str):
        return content or "", []
    if not isinstance(content, list):
        raise bad(f"{where} must be a string or a list of content parts", where)
    texts: list[str] = []
    images: list[str] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "image_url":
            images.append(_image(part.get("image_url"), f"{where}[{j}].image_url"))
        else:
            raise bad(f"{where}[{j}]: content part type {kind!r} is not supported", where)
    return "\n".join(texts), images


def _image(image: Any, where: str) -> str:
    url = image.get("url") if isinstance(image, dict) else image
    header, _, data = url.partition(",") if isinstance(url, str) else ("", "", "")
    if not header.startswith("data:") or not header.endswith(";base64") or not data:
        raise bad(f"{where}: Ollama takes images only as base64 data: URLs", where)
    return data


def _tool_calls(calls: list[Json], names: dict[str, str], where: str) -> list[Json]:
    out: list[Json] = []
    for k, call in enumerate(calls):
        function = call.get("function") or {}
        name = str(function.get("name", ""))
        names[str(call.get("id"))] = name
        raw = function.get("arguments")
        param = f"{where}.tool_calls[{k}].function.arguments"
        try:
            args = raw if isinstance(raw, dict) else (orjson.loads(raw) if raw else {})
        except (orjson.JSONDecodeError, TypeError):
            raise bad(f"{param} must be a JSON object", param) from None
        if not isinstance(args, dict):
            raise bad(f"{param} must be a JSON object", param)
        out.append({"function": {"name": name, "arguments": args}})
    return out


def _tool_name(message: Json, names: dict[str, str], where: str) -> str:
    call_id = message.get("tool_call_id")
    name = names.get(str(call_id)) or message.get("name")
    if not isinstance(name, str) or not name:
        param = f"{where}.tool_call_id"
        raise bad(f"{param} {call_id!r} matches no earlier assistant tool call", param)
    return name


# ---- reply: Ollama -> OpenAI ---------------------------------------------------------------


def tool_calls(message: Any) -> list[Json]:
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    out: list[Json] = []
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") or {}
        args = function.get("arguments")
        out.append(
            {
                "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {
                    "name": function.get("name", ""),
                    "arguments": args
                    if isinstance(args, str)
                    else orjson.dumps(args or {}).decode(),
                },
            }
        )
    return out


def finish_reason(done_reason: Any, has_tool_calls: bool) -> str:
    mapped = FINISH_REASONS.get(done_reason, "stop") if isinstance(done_reason, str) else "stop"
    return "tool_calls" if has_tool_calls and mapped == "stop" else mapped


def usage(document: Json, estimate: Usage) -> Usage:
    """Reported counts; Ollama leaves ``prompt_eval_count`` out when the whole prompt came
    from its cache, so a missing count falls back to the estimate and marks the row."""
    prompt, completion = document.get("prompt_eval_count"), document.get("eval_count")
    if isinstance(prompt, int) and isinstance(completion, int):
        return Usage(prompt, completion)
    return Usage(
        prompt if isinstance(prompt, int) else estimate.prompt_tokens,
        completion if isinstance(completion, int) else estimate.completion_tokens,
        estimated=True,
    )
