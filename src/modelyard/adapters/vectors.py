"""Embeddings in the encoding the caller asked for, whatever the upstream sent: floats, or
OpenAI's ``base64`` (little-endian float32 bytes). An upstream that ignores
``encoding_format`` answers floats to a caller who asked for base64 (the official SDKs ask for
it by default); :func:`as_asked` encodes them, or decodes base64 for a caller who asked for
floats, and says when nothing needs changing, so the upstream's bytes can go on as they are.
"""

from __future__ import annotations

import base64
import binascii
import sys
from array import array
from typing import Any

from modelyard.adapters.base import EmbeddingResult
from modelyard.adapters.shapes import embedding
from modelyard.errors import UpstreamError

Json = dict[str, Any]
FLOAT32 = 4


def decoded(text: str) -> list[float]:
    """The floats of a base64 embedding (little-endian float32)."""
    try:
        packed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise UpstreamError("the provider sent an embedding that is not base64") from None
    if len(packed) % FLOAT32:
        raise UpstreamError("the provider sent a base64 embedding that is not float32 values")
    values = array("f")
    values.frombytes(packed)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


def _encoded(values: list[Any]) -> str:
    if not all(type(v) in (float, int) for v in values):
        raise UpstreamError("the provider sent an embedding that is not a list of numbers")
    try:
        encoded = embedding(values, "base64")
    except OverflowError:  # an integer beyond any float
        raise UpstreamError("the provider sent an embedding value out of range") from None
    assert isinstance(encoded, str)
    return encoded


def as_asked(document: Json, encoding: Any) -> Json | None:
    """``document`` (an OpenAI embeddings ``list``) with every embedding in ``encoding``
    (``base64``, else floats); None when each already is (or there is nothing to change)."""
    data = document.get("data")
    if not isinstance(data, list):
        return None
    want_text = encoding == "base64"
    changed: list[Any] | None = None
    for index, item in enumerate(data):
        vector = item.get("embedding") if isinstance(item, dict) else None
        if want_text and isinstance(vector, list):
            value: list[float] | str = _encoded(vector)
        elif not want_text and isinstance(vector, str):
            value = decoded(vector)
        else:
            continue
        if changed is None:
            changed = list(data)
        changed[index] = {**item, "embedding": value}
    return None if changed is None else {**document, "data": changed}


def in_encoding(result: EmbeddingResult, encoding: Any) -> EmbeddingResult:
    """``result`` with its embeddings in ``encoding``: as it came (the upstream's bytes kept)
    when they already are, else converted (and encoded again by modelyard)."""
    document = as_asked(result.body, encoding)
    return result if document is None else EmbeddingResult(document, result.usage)
