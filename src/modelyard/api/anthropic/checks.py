"""A Messages API request checked as Anthropic checks it, before anything is sent anywhere:
400 with the field named as Anthropic names it (``messages.1.content.0.source.media_type:
Input should be ...``), in Anthropic's words.

Checked: ``model``, ``max_tokens`` (both required), ``messages`` (roles, and content as a
string or blocks: ``text``, ``image`` with a ``base64`` or ``url`` source, ``tool_use``,
``tool_result``; ``thinking``, ``redacted_thinking`` and ``document`` blocks pass to an
Anthropic upstream as they are), ``system``, ``stop_sequences``, ``temperature``, ``top_p``,
``top_k``, ``metadata``, ``stream``, ``tools`` and ``tool_choice``, ``cache_control`` on any
block. :data:`NATIVE_FIELDS` are taken as they are for an Anthropic upstream (and left out
for others); any other field is refused, as Anthropic refuses it.
"""

from __future__ import annotations

import re
from typing import Any

from modelyard.errors import BadRequest

Json = dict[str, Any]
COMMON = frozenset({"model", "messages", "system", "tools", "tool_choice"})
FIELDS = COMMON | {
    "max_tokens",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "metadata",
}
COUNT_NATIVE = frozenset(
    {
        "cache_control",
        "context_management",
        "mcp_servers",
        "output_config",
        "output_format",
        "speed",
        "thinking",
        "user_profile_id",
        "workspace_id",
    }
)
NATIVE_FIELDS = COUNT_NATIVE | {"container", "diagnostics", "inference_geo", "service_tier"}
NATIVE_BLOCKS = frozenset({"thinking", "redacted_thinking", "document"})
BLOCKS = ("text", "image", "tool_use", "tool_result", *sorted(NATIVE_BLOCKS))
MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
TOOL_CHOICES = ("auto", "any", "tool", "none")
MOST = 2**63 - 1  # integers are bounded as chat's are: no 2^64 reaches a counter


def fail(path: str, message: str) -> BadRequest:
    return BadRequest(f"{path}: {message}", details={"param": path})


def _quoted(options: tuple[str, ...]) -> str:
    names = [f"'{o}'" for o in options]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _string(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise fail(path, "Input should be a valid string")
    return value


def _object(path: str, value: Any) -> Json:
    if not isinstance(value, dict):
        raise fail(path, "Input should be a valid dictionary")
    return value


def _list(path: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise fail(path, "Input should be a valid list")
    return value


def _integer(path: str, value: Any, least: int) -> int:
    """An integer, or a number without a fraction (``5.0``) read as one, as Anthropic does."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise fail(path, "Input should be a valid integer")
    if value < least:
        raise fail(path, f"Input should be greater than or equal to {least}")
    if value > MOST:
        raise fail(path, f"Input should be less than or equal to {MOST}")
    return value


def _number(path: str, value: Any, low: float, high: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise fail(path, "Input should be a valid number")
    if value < low:
        raise fail(path, f"Input should be greater than or equal to {low:g}")
    if value > high:
        raise fail(path, f"Input should be less than or equal to {high:g}")


def _one_of(path: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise fail(path, f"Input should be {_quoted(options)}")
    return str(value)


def _tag(path: str, block: Any, options: tuple[str, ...]) -> str:
    kind = _object(path, block).get("type")
    if kind is None:
        raise fail(f"{path}.type", "Field required")
    if kind not in options:
        raise fail(
            f"{path}.type",
            f"Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            f"{', '.join(repr(o) for o in options)}",
        )
    return str(kind)


def _required(path: str, body: Json, name: str) -> Any:
    if body.get(name) is None:
        raise fail(f"{path}{name}", "Field required")
    return body[name]


def _cache_control(path: str, block: Json) -> None:
    control = block.get("cache_control")
    if control is None:
        return
    control = _object(f"{path}.cache_control", control)
    _one_of(f"{path}.cache_control.type", control.get("type"), ("ephemeral",))
    if control.get("ttl") is not None:
        _one_of(f"{path}.cache_control.ttl", control["ttl"], ("5m", "1h"))


def _text(path: str, block: Json) -> None:
    _string(f"{path}.text", _required(f"{path}.", block, "text"))


def _image(path: str, block: Json) -> None:
    where = f"{path}.source"
    source = _required(f"{path}.", block, "source")
    kind = _tag(where, source, ("base64", "url"))
    if kind == "base64":
        _one_of(f"{where}.media_type", source.get("media_type"), MEDIA_TYPES)
        _string(f"{where}.data", _required(f"{where}.", source, "data"))
    else:
        _string(f"{where}.url", _required(f"{where}.", source, "url"))


def _tool_use(path: str, block: Json) -> None:
    _string(f"{path}.id", _required(f"{path}.", block, "id"))
    _string(f"{path}.name", _required(f"{path}.", block, "name"))
    _object(f"{path}.input", _required(f"{path}.", block, "input"))


def _tool_result(path: str, block: Json) -> None:
    _string(f"{path}.tool_use_id", _required(f"{path}.", block, "tool_use_id"))
    if block.get("is_error") is not None and not isinstance(block["is_error"], bool):
        raise fail(f"{path}.is_error", "Input should be a valid boolean")
    content = block.get("content")
    if content is None or isinstance(content, str):
        return
    for index, inner in enumerate(_list(f"{path}.content", content)):
        where = f"{path}.content.{index}"
        (_text if _tag(where, inner, ("text", "image")) == "text" else _image)(where, inner)
        _cache_control(where, inner)


CHECKS = {"text": _text, "image": _image, "tool_use": _tool_use, "tool_result": _tool_result}


def _content(path: str, content: Any) -> None:
    if isinstance(content, str):
        return
    for index, block in enumerate(_list(path, content)):
        where = f"{path}.{index}"
        check = CHECKS.get(_tag(where, block, BLOCKS))
        if check is not None:
            check(where, block)
        _cache_control(where, block)


def _messages(messages: Any) -> None:
    if not _list("messages", messages):
        raise fail("messages", "at least one message is required")
    for index, item in enumerate(messages):
        where = f"messages.{index}"
        message = _object(where, item)
        _one_of(f"{where}.role", _required(f"{where}.", message, "role"), ("user", "assistant"))
        _content(f"{where}.content", _required(f"{where}.", message, "content"))


def _system(system: Any) -> None:
    if isinstance(system, str):
        return
    for index, block in enumerate(_list("system", system)):
        _tag(f"system.{index}", block, ("text",))
        _text(f"system.{index}", block)
        _cache_control(f"system.{index}", block)


def _tools(tools: Any) -> None:
    for index, item in enumerate(_list("tools", tools)):
        where = f"tools.{index}"
        tool = _object(where, item)
        name = _string(f"{where}.name", _required(f"{where}.", tool, "name"))
        if tool.get("type") not in (None, "custom"):
            continue  # Anthropic's own tools (bash, web search ...): for an Anthropic upstream
        if not TOOL_NAME.match(name):
            raise fail(f"{where}.name", "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'")
        if tool.get("description") is not None:
            _string(f"{where}.description", tool["description"])
        schema = _object(f"{where}.input_schema", _required(f"{where}.", tool, "input_schema"))
        if schema.get("type") != "object":
            raise fail(f"{where}.input_schema.type", "Input should be 'object'")
        _cache_control(where, tool)


def _tool_choice(choice: Any) -> None:
    kind = _one_of("tool_choice.type", _object("tool_choice", choice).get("type"), TOOL_CHOICES)
    if kind == "tool":
        _string("tool_choice.name", _required("tool_choice.", choice, "name"))
    parallel = choice.get("disable_parallel_tool_use")
    if parallel is not None and not isinstance(parallel, bool):
        raise fail("tool_choice.disable_parallel_tool_use", "Input should be a valid boolean")


def _extra(body: Json, known: frozenset[str]) -> None:
    for name in body:
        if name not in known:
            raise fail(name, "Extra inputs are not permitted")


def check_message(body: Json) -> None:
    """400 for what Anthropic would refuse in a ``POST /v1/messages`` body; its integers
    given as ``5.0`` are made ``5``."""
    _extra(body, FIELDS | NATIVE_FIELDS)
    _string("model", _required("", body, "model"))
    body["max_tokens"] = _integer("max_tokens", _required("", body, "max_tokens"), 1)
    _common(body)
    if body.get("stop_sequences") is not None:
        for index, stop in enumerate(_list("stop_sequences", body["stop_sequences"])):
            _string(f"stop_sequences.{index}", stop)
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise fail("stream", "Input should be a valid boolean")
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            _number(name, body[name], 0, 1)
    if body.get("top_k") is not None:
        body["top_k"] = _integer("top_k", body["top_k"], 0)
    if body.get("metadata") is not None:
        user = _object("metadata", body["metadata"]).get("user_id")
        if user is not None and len(_string("metadata.user_id", user)) > 256:
            raise fail("metadata.user_id", "String should have at most 256 characters")


def check_count(body: Json) -> None:
    """400 for what Anthropic would refuse in a ``POST /v1/messages/count_tokens`` body."""
    _extra(body, COMMON | COUNT_NATIVE)
    _string("model", _required("", body, "model"))
    _common(body)


def _common(body: Json) -> None:
    _messages(_required("", body, "messages"))
    if body.get("system") is not None:
        _system(body["system"])
    if body.get("tools") is not None:
        _tools(body["tools"])
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"])
