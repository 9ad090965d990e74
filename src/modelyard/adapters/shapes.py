"""The OpenAI shapes every adapter answers in, made in one place: the ``usage`` object, an
embedding as floats or OpenAI's base64, and the usage estimate of a reply a provider did
not count."""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any

from modelyard import tokens
from modelyard.adapters.base import Usage

Json = dict[str, Any]


def usage_json(usage: Usage, reasoning: int | None = None) -> Json:
    """OpenAI's ``usage`` object; ``reasoning``: the reasoning tokens, where counted."""
    out: Json = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }
    if reasoning is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return out


def embedding(values: list[float], encoding: Any) -> list[float] | str:
    """An embedding as the caller asked: floats, or ``encoding_format: "base64"``'s
    little-endian float32 bytes in base64."""
    if encoding != "base64":
        return values
    packed = array("f", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode()


def prompt_estimate(body: Json) -> int:
    """The estimated prompt tokens of a chat request's messages."""
    messages = body.get("messages")
    return tokens.estimate_messages(messages) if isinstance(messages, list) else 0


def estimate(body: Json, produced: str) -> Usage:
    """The usage of a reply whose provider counted none: estimated, and marked so."""
    return Usage(prompt_estimate(body), tokens.estimate_text(produced), estimated=True)
