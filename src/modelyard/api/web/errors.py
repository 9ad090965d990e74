"""Failures of the server-rendered pages, answered as an HTML error page (not the API's
JSON): a person reads them in a browser."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import HTMLResponse

from modelyard.api.web.render import render


class PageError(Exception):
    """Raise from a page to answer ``status`` with the error page: a short title and a
    sentence saying what to do."""

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.headers = dict(headers or {})


async def page_error(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, PageError)
    response = render(
        request, "error.html", {"title": exc.title, "message": exc.message}, status=exc.status
    )
    response.headers.update(exc.headers)
    return response
