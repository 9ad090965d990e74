"""Token estimates for when a provider reports no usage (some streams, some declarative
providers). A usage row built from these is marked ``estimated``.

The estimate is deliberately simple and stable: about four characters of English text per
token (the ratio vendors quote for their BPE tokenizers), plus a few tokens of framing per
chat message. It never reads a vendor tokenizer, so it costs microseconds on the hot path.
"""

from __future__ import annotations

import math
from typing import Any

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 85


def estimate_text(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return estimate_text(content)
    total = 0
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text":
                total += estimate_text(str(part.get("text", "")))
            elif part.get("type") in ("image_url", "input_image", "image"):
                total += TOKENS_PER_IMAGE
    return total


def estimate_messages(messages: list[dict[str, Any]]) -> int:
    """Prompt tokens of an OpenAI ``messages`` list."""
    total = 0
    for message in messages:
        total += TOKENS_PER_MESSAGE + _content_tokens(message.get("content"))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            total += estimate_text(str(function.get("name", "")))
            total += estimate_text(str(function.get("arguments", "")))
    return total + 2 if messages else 0


def estimate_inputs(value: Any) -> int:
    """Tokens of an embeddings ``input``: a string, or a list of strings, of token ids or of
    lists of token ids."""
    if isinstance(value, str):
        return estimate_text(value)
    if isinstance(value, list):
        return sum(
            estimate_text(v) if isinstance(v, str) else len(v) if isinstance(v, list) else 1
            for v in value
        )
    return 0
