"""JSON paths as declarative providers write them: ``choices[0].message.content`` or
``output.0.content.0.text``; parsed once (cached) and applied without ever raising."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

_PATH_SEGMENT = re.compile(r"([^.\[\]\s]*)((?:\[[0-9]+\])*)")


@lru_cache(maxsize=1024)
def parse_path(path: str) -> tuple[str | int, ...]:
    """Split ``"choices[0].message.content"`` into ``("choices", 0, "message", "content")``.

    Segments are separated by dots; ``[n]`` indexes a list; an all-digit segment
    (``output.0.text``) is an index too. Raises :class:`ValueError` on bad syntax.
    """
    if not path or path.startswith("$"):
        raise ValueError(f"invalid JSON path {path!r}: write e.g. 'choices[0].message.content'")
    steps: list[str | int] = []
    for position, segment in enumerate(path.split(".")):
        match = _PATH_SEGMENT.fullmatch(segment)
        if match is None:
            raise ValueError(f"invalid JSON path {path!r}: bad segment {segment!r}")
        key, indices = match.groups()
        if key:
            steps.append(int(key) if key.isascii() and key.isdigit() else key)
        elif not indices or position > 0:
            raise ValueError(f"invalid JSON path {path!r}: empty segment")
        steps.extend(int(index) for index in re.findall(r"[0-9]+", indices))
    return tuple(steps)


def extract(document: Any, path: str | tuple[str | int, ...]) -> Any | None:
    """The value at ``path`` in ``document``, or None if a step is missing or mistyped.

    Never raises, not even for a malformed path. An integer step indexes a list or looks up
    its decimal string in an object; a string step only looks up an object key.
    """
    try:
        steps = parse_path(path) if isinstance(path, str) else path
    except ValueError:
        return None
    current = document
    for step in steps:
        if isinstance(current, Mapping):
            key = str(step) if isinstance(step, int) else step
            if key not in current:
                return None
            current = current[key]
        elif (
            isinstance(current, Sequence)
            and not isinstance(current, str | bytes | bytearray)
            and isinstance(step, int)
            and 0 <= step < len(current)
        ):
            current = current[step]
        else:
            return None
    return current
