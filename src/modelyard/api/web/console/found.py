"""A registry read on a console page whose object may not exist (or not be the viewer's):
the page's 404, never the API's JSON error."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from modelyard.api.web.console.access import not_found
from modelyard.errors import NotFound

T = TypeVar("T")


async def found(call: Awaitable[T]) -> T:
    try:
        return await call
    except NotFound:
        raise not_found() from None
