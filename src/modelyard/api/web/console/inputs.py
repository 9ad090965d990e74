"""Reading what a person typed: counts and offsets in URLs, optional form fields and
textarea lines (notices after a change are ``notices.py``'s, "not found" is ``found.py``'s)."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData

from modelyard.api.web.forms import text

MAX_OFFSET = 10**12  # further than any list goes, and within every column's range


def count_in(raw: str, cap: int = MAX_OFFSET) -> int:
    """A count typed into a URL (an offset): ASCII digits only (``str.isdigit`` also takes
    "²", which ``int`` refuses), at most ``cap``; anything else is 0."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        return 0
    return min(int(raw), cap)


def offset_of(request: Request) -> int:
    """``?offset=``: a page's start; anything but a sane number is the first page."""
    return count_in(request.query_params.get("offset", ""))


def optional(form: FormData, name: str) -> str | None:
    """A field's text, None when left empty (an optional limit, an expiry)."""
    value = text(form, name).strip()
    return value or None


def lines(form: FormData, name: str) -> list[str]:
    """A textarea's non-empty lines (one redirect URI a line)."""
    return [line.strip() for line in text(form, name).splitlines() if line.strip()]
