"""Anthropic's wire format at the ``/v1/messages`` edge: the error shape its SDKs parse, and
events as Server-Sent Events.

An error is ``{"type": "error", "error": {"type", "message"}}`` with the status Anthropic
answers it with; the type follows the status as in Anthropic's own table (the one the
Anthropic adapter reads upstream errors by, :data:`modelyard.adapters.anthropic.ERROR_STATUS`,
inverted). modelyard's 503 (a dependency or every provider unavailable) is
``overloaded_error``, as Anthropic calls being unable to serve for now."""

from __future__ import annotations

from typing import Any

import orjson

from modelyard.adapters.anthropic import ERROR_STATUS

ERROR_TYPES = {status: kind for kind, status in ERROR_STATUS.items()} | {
    503: "overloaded_error",
}


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, code: str, message: str, param: str | None = None) -> bytes:
    """An error in Anthropic's shape (``code`` and ``param`` have no place in it: the message
    names the field)."""
    return orjson.dumps(
        {"type": "error", "error": {"type": error_type(status), "message": message}}
    )


def event(kind: str, data: bytes) -> bytes:
    """One Server-Sent Event, named as Anthropic names it (its ``type``)."""
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


def event_of(payload: dict[str, Any], raw: bytes | None = None) -> bytes:
    """An event from its payload, its ``raw`` bytes as they came where there are some."""
    return event(str(payload.get("type") or "message"), raw or orjson.dumps(payload))
