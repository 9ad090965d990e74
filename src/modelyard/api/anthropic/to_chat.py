"""A Messages API request (checked by :mod:`.checks`) as an OpenAI chat-completions body, for
every upstream that does not speak Anthropic's format: the inverse of
:func:`modelyard.adapters.anthropic_wire.build_request`, whose tables it reads backwards.

``system`` becomes a system message; a user turn's ``tool_result`` blocks become ``tool``
messages ahead of the rest of the turn (their images move into it: a tool message holds
text only); ``image`` blocks become ``image_url`` parts (a ``base64`` source as a data:
URL); an assistant turn's ``tool_use`` blocks become ``tool_calls``. ``stop_sequences``
becomes ``stop``, ``metadata.user_id`` ``user``, ``tool_choice`` ``any`` ``required`` and
``disable_parallel_tool_use`` ``parallel_tool_calls: false``. ``cache_control``, ``top_k``,
``thinking`` blocks and the fields only Anthropic has are left out.

What only an Anthropic upstream can serve (``document`` blocks, Anthropic's own tools) is
named in :attr:`Translated.native_only`: such a request is refused for any other upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard.adapters.anthropic_wire import TOOL_CHOICES, tool_call

Json = dict[str, Any]
CHOICES = {shape["type"]: name for name, shape in TOOL_CHOICES.items()}  # any -> required
PASSED = ("max_tokens", "temperature", "top_p", "stream")


@dataclass(slots=True)
class Translated:
    body: Json  # the chat-completions body
    native_only: str | None = None  # the first part of the request only Anthropic can serve


def to_chat(request: Json) -> Translated:
    out = Translated({"model": request["model"]})
    messages: list[Json] = []
    system = request.get("system")
    if system:
        text = system if isinstance(system, str) else "\n\n".join(b["text"] for b in system)
        messages.append({"role": "system", "content": text})
    for index, message in enumerate(request["messages"]):
        where = f"messages.{index}.content"
        if message["role"] == "assistant":
            messages.append(_assistant(message["content"]))
        else:
            messages += _user(message["content"], where, out)
    body = out.body
    body["messages"] = messages
    body.update((name, request[name]) for name in PASSED if request.get(name) is not None)
    if request.get("stop_sequences"):
        body["stop"] = list(request["stop_sequences"])
    user = (request.get("metadata") or {}).get("user_id")
    if user:
        body["user"] = user
    if request.get("tools"):
        _tools(request, out)
    return out


def _image(block: Json) -> Json:
    source = block["source"]
    if source["type"] == "base64":
        url = f"data:{source['media_type']};base64,{source['data']}"
    else:
        url = source["url"]
    return {"type": "image_url", "image_url": {"url": url}}


def _user(content: Any, where: str, out: Translated) -> list[Json]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tools: list[Json] = []
    parts: list[Json] = []
    for index, block in enumerate(content):
        kind = block["type"]
        if kind == "text":
            parts.append({"type": "text", "text": block["text"]})
        elif kind == "image":
            parts.append(_image(block))
        elif kind == "tool_result":
            tools.append(_tool_result(block, parts))
        elif kind == "document" and out.native_only is None:
            out.native_only = f"{where}.{index} (a document block)"
    if not parts:
        return tools
    if len(parts) == 1 and parts[0]["type"] == "text":
        return [*tools, {"role": "user", "content": parts[0]["text"]}]
    return [*tools, {"role": "user", "content": parts}]


def _tool_result(block: Json, parts: list[Json]) -> Json:
    """A ``tool`` message; the result's images join the user turn (``parts``)."""
    content = block.get("content")
    if isinstance(content, list):
        texts = [inner["text"] for inner in content if inner["type"] == "text"]
        parts += [_image(inner) for inner in content if inner["type"] == "image"]
        content = "\n".join(texts)
    return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": content or ""}


def _assistant(content: Any) -> Json:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    text = "".join(b["text"] for b in content if b["type"] == "text")
    message: Json = {"role": "assistant", "content": text or None}
    calls = [tool_call(b) for b in content if b["type"] == "tool_use"]
    if calls:
        message["tool_calls"] = calls
    return message


def _tools(request: Json, out: Translated) -> None:
    tools = []
    for index, tool in enumerate(request["tools"]):
        if tool.get("type") not in (None, "custom"):
            out.native_only = out.native_only or f"tools.{index} (Anthropic's {tool['type']})"
            continue
        function: Json = {"name": tool["name"], "parameters": tool["input_schema"]}
        if tool.get("description"):
            function["description"] = tool["description"]
        tools.append({"type": "function", "function": function})
    if not tools:
        return
    out.body["tools"] = tools
    choice = request.get("tool_choice")
    if choice is None:
        return
    kind = choice["type"]
    if kind == "tool":
        out.body["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        out.body["tool_choice"] = CHOICES[kind]
    if choice.get("disable_parallel_tool_use") and kind != "none":
        out.body["parallel_tool_calls"] = False
