"""How deep brackets nest in a document's text, measured before it is parsed: graphql-core's
parser recurses once per level, so ``{{{{...`` thousands deep would exhaust the stack (or
take long) before any limit on the parsed document could look at it."""

from __future__ import annotations

import re

MAX_NESTING = 128  # brackets ({[( ) nested in the raw text, checked before parsing
_LINE_END = re.compile(r"[\r\n]")  # GraphQL ends a line (and a comment) at either


def _skip(text: str, at: int) -> int:
    """Where the string or comment starting at ``at`` ends (just past it)."""
    if text.startswith("#", at):
        found = _LINE_END.search(text, at)
        return len(text) if found is None else found.start()
    if text.startswith('"""', at):
        at += 3
        while (end := text.find('"""', at)) > 0 and text[end - 1] == "\\":
            at = end + 3
        return len(text) if end < 0 else end + 3
    at += 1
    while at < len(text) and text[at] not in '"\n\r':
        at += 2 if text[at] == "\\" else 1
    return at + 1


def nesting(text: str) -> int:
    """The deepest bracket nesting of ``text`` outside strings and comments, in one pass."""
    deepest = depth = at = 0
    while at < len(text):
        char = text[at]
        if char in '"#':
            at = _skip(text, at)
            continue
        if char in "{[(":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "}])":
            depth = max(0, depth - 1)
        at += 1
    return deepest


__all__ = ["MAX_NESTING", "nesting"]
