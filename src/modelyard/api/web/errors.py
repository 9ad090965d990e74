"""Failures of the server-rendered pages, answered as an HTML error page (not the API's
JSON): a person reads them in a browser."""

from __future__ import annotations

import math
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from modelyard.api import errors
from modelyard.api.web.render import render
from modelyard.faults import DEPENDENCY_ERRORS, as_error

# The paths a person reads in a browser: a failure there is the error page, not JSON.
PAGES = ("/console", "/login", "/logout", "/account", "/device")


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


def is_page(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PAGES)


async def page_failure(request: Request, exc: Exception) -> Response:
    """An unreachable database or Redis (503, Retry-After) or a bug (500) on a page: the
    error page, saying only what the API would (nothing of the exception's text); anywhere
    else the API's JSON answer."""
    if not is_page(request.url.path):
        return await errors.unexpected(request, exc)
    error = as_error(exc)
    errors.log_unexpected(request, exc, error)
    headers: dict[str, str] = {}
    retry_after = getattr(error, "retry_after", None)
    if error.status == 503:
        title, message = "Temporarily unavailable", "The server cannot reach its database."
        headers["Retry-After"] = str(max(1, math.ceil(retry_after or 1)))
        message += " Try again in a few seconds."
    else:
        title, message = "Something went wrong", "The server failed to answer this page."
    return await page_error(request, PageError(error.status, title, message, headers))


def install(app: FastAPI) -> None:
    """Pages' failures as the error page: after ``api.errors.install``, whose handlers for the
    same exceptions these replace (and call for every other path)."""
    app.add_exception_handler(PageError, page_error)
    for kind in DEPENDENCY_ERRORS:
        app.add_exception_handler(kind, page_failure)
    app.add_exception_handler(Exception, page_failure)
