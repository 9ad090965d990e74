"""What the account pages (users, API keys, OAuth clients) share: reading optional form
fields, the one-line notices a page shows after a change, and a domain "not found" as the
console's 404 page."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from modelyard.api.web.console.access import not_found
from modelyard.api.web.forms import text
from modelyard.errors import NotFound

T = TypeVar("T")


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


async def found(call: Awaitable[T]) -> T:
    """The answer of a service call that looks something up; its "not found" (an id that
    is not the viewer's, or not an id at all) is the console's 404 page."""
    try:
        return await call
    except NotFound:
        raise not_found() from None


def done(path: str, what: str) -> RedirectResponse:
    """After a change: back to ``path``, which says ``what`` happened (a known word, so no
    page shows text taken from its URL)."""
    joiner = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{joiner}done={what}", status_code=303)


def notice(request: Request, messages: Mapping[str, str]) -> str:
    """The status line for ``?done=``: one of ``messages``, else nothing."""
    return messages.get(request.query_params.get("done", ""), "")
