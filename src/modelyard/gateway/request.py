"""Reading a caller's request: what it needs of a model, and what it will cost at most."""

from __future__ import annotations

from typing import Any

from modelyard import tokens
from modelyard.errors import BadRequest

MAX_BODY_BYTES = 16 * 1024 * 1024
COMPLETION_FIELDS = ("max_completion_tokens", "max_tokens")


def chat_needs(body: dict[str, Any]) -> frozenset[str]:
    """The capabilities a chat request needs of its model."""
    needs = {"text"}
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest(
            "messages: a non-empty list of messages is required", details={"param": "messages"}
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(
                f"messages[{index}]: each message needs a role",
                details={"param": f"messages[{index}]"},
            )
        content = message.get("content")
        if isinstance(content, list) and any(
            isinstance(p, dict) and p.get("type") in ("image_url", "input_image") for p in content
        ):
            needs.add("vision")
    if body.get("tools") or body.get("functions"):
        needs.add("function_calling")
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in (
        "json_object",
        "json_schema",
    ):
        needs.add("json_mode")
    return frozenset(needs)


def embedding_needs(body: dict[str, Any]) -> frozenset[str]:
    value = body.get("input")
    if not isinstance(value, str | list) or not value:
        raise BadRequest(
            "input: a string or a non-empty list is required", details={"param": "input"}
        )
    return frozenset({"embedding"})


def requested_model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequest("model: must be a string", details={"param": "model"})
    return model


def wants_stream(body: dict[str, Any]) -> bool:
    stream = body.get("stream")
    if stream is None:  # left out, or null as OpenAI allows
        return False
    if not isinstance(stream, bool):
        raise BadRequest("stream: must be true or false", details={"param": "stream"})
    if stream:
        include_usage(body)  # a malformed stream_options is refused before anything starts
    return stream


def include_usage(body: dict[str, Any]) -> bool:
    """Whether a streaming caller asked for the usage chunk (``stream_options``)."""
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise BadRequest("stream_options: must be an object", details={"param": "stream_options"})
    return bool(options.get("include_usage"))


def prompt_estimate(body: dict[str, Any], operation: str) -> int:
    if operation == "embedding":
        return tokens.estimate_inputs(body.get("input"))
    return tokens.estimate_messages(body.get("messages") or [])


def requested_completion(body: dict[str, Any]) -> int | None:
    """The caller's own completion cap (``max_completion_tokens``, else ``max_tokens``)."""
    for name in COMPLETION_FIELDS:
        value = body.get(name)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BadRequest(f"{name}: must be a positive integer", details={"param": name})
            return value
    return None


def choices(body: dict[str, Any]) -> int:
    """How many completions the call asks for (``n``), each up to its completion cap."""
    n = body.get("n")
    return n if type(n) is int and n > 1 else 1


def max_completion(body: dict[str, Any], model_max: int | None, default: int = 4096) -> int:
    """The most completion tokens the call may produce: the caller's cap, else the model's
    max output, else ``default`` (``billing.worst_case_completion_tokens``)."""
    asked = requested_completion(body)
    return asked if asked is not None else model_max or default


def cap_completion(body: dict[str, Any], tokens: int) -> None:
    """Lower the call's completion cap to ``tokens``, in the field the caller used
    (``max_tokens`` when none; the adapters translate it for other wire formats)."""
    used = [name for name in COMPLETION_FIELDS if body.get(name) is not None]
    for name in used or ["max_tokens"]:
        body[name] = tokens
