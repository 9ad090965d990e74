"""OpenAI chat-completions <-> Anthropic Messages API: the translation, no I/O.

Requests: system and developer messages join into the top-level ``system``; user and
assistant turns become content blocks (text, ``image`` with a ``base64`` source for data:
URLs or a ``url`` source for http(s) URLs, ``tool_use`` for assistant tool calls); role
``tool`` messages become ``tool_result`` blocks of a user turn. Consecutive turns of one
role merge, as Anthropic expects alternating turns (parallel tool results share one turn).
``max_tokens`` is required upstream: ``max_completion_tokens``, else ``max_tokens``, else
:data:`DEFAULT_MAX_TOKENS`. ``stop`` becomes ``stop_sequences``, ``user`` becomes
``metadata.user_id``, ``parallel_tool_calls: false`` becomes ``disable_parallel_tool_use``.

JSON mode: Anthropic has no ``response_format``, so ``json_object`` (and ``json_schema``,
with its schema) adds :data:`JSON_INSTRUCTION` to the system prompt. It asks, it cannot
force: the reply is not validated.

Fields Anthropic has no counterpart for (``seed``, ``presence_penalty``,
``frequency_penalty``, ``logit_bias``, ``stream_options`` ...) are dropped; ``n`` > 1 is a
bad request, since one Anthropic call yields one answer.

Replies: text blocks join into ``message.content``; ``tool_use`` blocks become
``tool_calls``; ``thinking`` blocks are not answer text and are left out.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from modelyard.adapters import shapes
from modelyard.adapters.base import Usage
from modelyard.adapters.edge import bad

Json = dict[str, Any]
DEFAULT_MAX_TOKENS = 4096
JSON_INSTRUCTION = (
    "Respond with a single valid JSON object only: no prose, no Markdown code fences."
)
DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+);base64,(?P<data>.+)$", re.DOTALL)
TOOL_CHOICES: dict[str, Json] = {
    "auto": {"type": "auto"},
    "none": {"type": "none"},
    "required": {"type": "any"},
}
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
PASSED = ("temperature", "top_p")


def build_request(body: Json, model: str) -> Json:
    """The ``/v1/messages`` payload for an OpenAI chat-completions ``body``."""
    n = body.get("n")
    if n is not None and n != 1:
        raise bad("n > 1 is not supported by Anthropic: send one request per answer", "n")
    system, messages = _messages(body.get("messages"))
    system += _json_instruction(body.get("response_format"))
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    request: Json = {"model": model, "max_tokens": limit, "messages": messages}
    if system:
        request["system"] = "\n\n".join(system)
    request.update({name: body[name] for name in PASSED if body.get(name) is not None})
    stop = body.get("stop")
    if stop:
        request["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("tools"):
        request["tools"] = [_tool(t, f"tools[{i}]") for i, t in enumerate(body["tools"])]
        choice = _tool_choice(body.get("tool_choice"))
        if body.get("parallel_tool_calls") is False and choice.get("type") != "none":
            choice = {**choice, "disable_parallel_tool_use": True}
        if choice:
            request["tool_choice"] = choice
    if isinstance(body.get("user"), str) and body["user"]:
        request["metadata"] = {"user_id": body["user"]}
    if body.get("stream"):
        request["stream"] = True
    return request


def _json_instruction(response_format: Any) -> list[str]:
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return [JSON_INSTRUCTION]
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return [f"{JSON_INSTRUCTION} It must match this JSON Schema: {_dumps(schema)}"]
    return []


def _messages(messages: Any) -> tuple[list[str], list[Json]]:
    if not isinstance(messages, list) or not messages:
        raise bad("messages must be a non-empty list", "messages")
    system: list[str] = []
    turns: list[Json] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role in ("system", "developer"):
            system += [b["text"] for b in _blocks(message.get("content"), where, images=False)]
        elif role == "user":
            _add(turns, "user", _blocks(message.get("content"), where))
        elif role == "assistant":
            blocks = _blocks(message.get("content"), where, images=False)
            calls = message.get("tool_calls") or ()
            _add(turns, "assistant", blocks + [_tool_use(c, f"{where}.tool_calls") for c in calls])
        elif role == "tool":
            _add(turns, "user", [_tool_result(message, where)])
        else:
            raise bad(f"{where}.role {role!r} is not supported", f"{where}.role")
    return system, turns


def _add(turns: list[Json], role: str, blocks: list[Json]) -> None:
    if not blocks:  # Anthropic rejects empty turns and empty text blocks
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _blocks(content: Any, where: str, *, images: bool = True) -> list[Json]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise bad(f"{where}.content must be a string or a list of parts", f"{where}.content")
    blocks: list[Json] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            blocks += [{"type": "text", "text": part["text"]}] if part["text"] else []
        elif kind == "image_url" and images:
            blocks.append(_image(part.get("image_url"), f"{where}.content[{j}]"))
        else:
            param = f"{where}.content[{j}]"
            raise bad(f"{param}: content part {kind!r} is not supported by Anthropic here", param)
    return blocks


def _image(image: Any, where: str) -> Json:
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise bad(f"{where}.image_url.url must be a string", f"{where}.image_url")
    if match := DATA_URL.match(url):
        source = {"type": "base64", "media_type": match["type"], "data": match["data"]}
    elif url.startswith(("https://", "http://")):
        source = {"type": "url", "url": url}
    else:
        message = f"{where}.image_url.url must be a base64 data: URL or an http(s) URL"
        raise bad(message, f"{where}.image_url")
    return {"type": "image", "source": source}


def _tool_use(call: Any, where: str) -> Json:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise bad(f"{where}: each tool call needs an id and function.name", where)
    if not isinstance(call.get("id"), str) or not call["id"]:
        raise bad(f"{where}: each tool call needs an id and function.name", where)
    arguments = function.get("arguments") or "{}"
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise bad(f"{where}: function.arguments must be a JSON object", where)
    return {"type": "tool_use", "id": call.get("id"), "name": function["name"], "input": parsed}


def _tool_result(message: Json, where: str) -> Json:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise bad(f"{where}.tool_call_id is required", f"{where}.tool_call_id")
    content = message.get("content")
    result: Json = {"type": "tool_result", "tool_use_id": call_id}
    if isinstance(content, str):
        result["content"] = content
    elif content:
        result["content"] = _blocks(content, where, images=False)
    return result


def _tool(tool: Any, where: str) -> Json:
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or tool.get("type") != "function":
        raise bad(f"{where}: only function tools are supported by Anthropic", where)
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    declared: Json = {"name": function.get("name")}
    if function.get("description"):
        declared["description"] = function["description"]
    return declared | {"input_schema": schema}


def _tool_choice(choice: Any) -> Json:
    if choice is None:
        return {}
    if isinstance(choice, str) and choice in TOOL_CHOICES:
        return dict(TOOL_CHOICES[choice])
    function = choice.get("function") if isinstance(choice, dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        return {"type": "tool", "name": function["name"]}
    raise bad("tool_choice must be auto, none, required or a function", "tool_choice")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def finish_reason(stop_reason: Any) -> str:
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def tool_call(block: Json) -> Json:
    arguments = _dumps(block.get("input") or {})
    function = {"name": block.get("name", ""), "arguments": arguments}
    return {"id": block.get("id", ""), "type": "function", "function": function}


def _count(raw: Json, name: str) -> int:
    value = raw.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage(raw: Any) -> Usage | None:
    """Anthropic's ``input_tokens`` leaves out cache reads and writes; OpenAI's
    ``prompt_tokens`` counts every prompt token, cached ones included: the reads are
    ``cached_tokens``, the writes ``cache_write_tokens`` (each charged at its own price)."""
    if not isinstance(raw, dict) or "input_tokens" not in raw:
        return None
    cached = _count(raw, "cache_read_input_tokens")
    written = _count(raw, "cache_creation_input_tokens")
    prompt = _count(raw, "input_tokens") + cached + written
    return Usage(prompt, _count(raw, "output_tokens"), cached, cache_write_tokens=written)


def reply(document: Json, body: Json, model: str, created: int) -> tuple[Json, Usage]:
    """An Anthropic ``message`` as an OpenAI ``chat.completion`` and its usage."""
    blocks = [b for b in document.get("content") or () if isinstance(b, dict)]
    text = "".join(b["text"] for b in blocks if b.get("type") == "text" and "text" in b)
    calls = [tool_call(b) for b in blocks if b.get("type") == "tool_use"]
    message: Json = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    produced = text + "".join(c["function"]["arguments"] for c in calls)
    counted = usage(document.get("usage")) or shapes.estimate(body, produced)
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": finish_reason(document.get("stop_reason")),
    }
    completion = {
        "id": document.get("id") or "",
        "object": "chat.completion",
        "created": created,
        "model": document.get("model") or model,
        "choices": [choice],
        "usage": shapes.usage_json(counted),
    }
    return completion, counted
