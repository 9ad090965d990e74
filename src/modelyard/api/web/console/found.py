"""A registry read on a console page whose object may not exist (or not be the viewer's),
or an id in a URL that is not one: the page's 404, never the API's JSON error."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import TypeVar

from modelyard.api.web.console.access import not_found
from modelyard.errors import NotFound

T = TypeVar("T")


async def found(call: Awaitable[T]) -> T:
    """The answer of a service call that looks something up; its "not found" (an id that
    is not the viewer's, or not an id at all) is the console's 404 page."""
    try:
        return await call
    except NotFound:
        raise not_found() from None


def id_or_404(value: str) -> uuid.UUID:
    """An id from a URL or form; anything else answers 404."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise not_found() from None
