"""GraphiQL, served from this package (no CDN): the page and its assets."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


def page(request: Request) -> Response:
    return Response("GraphiQL arrives with its assets", 404)


def install(app: object) -> None:
    """The assets' route."""
