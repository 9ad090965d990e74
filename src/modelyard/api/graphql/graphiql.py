"""GraphiQL at ``GET /graphql`` for a browser (``Accept: text/html``), served from this
package with no network: GraphiQL 3.8.3 and React 18.2.0 as npm publishes them (vendored by
``scripts/vendor_graphiql.sh``, which checks their sha256), our own page
(``static/graphiql.html``) and a small init script (``static/graphiql-init.js``) that points
GraphiQL at ``/graphql`` with the headers editor open, prefilled for a bearer credential.

The page runs no inline script: its Content Security Policy allows scripts, styles, fonts and
requests from this server only (GraphiQL's fonts are ``data:`` URLs inside its stylesheet).
The assets live at ``/graphql/static/<name>``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

STATIC = Path(__file__).parent / "static"
PAGE = "graphiql.html"
ASSETS_PATH = "/graphql/static/{name}"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
LICENSE_TYPE = "text/plain; charset=utf-8"

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "font-src 'self' data:; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
ASSET_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}


def _media_type(path: Path) -> str | None:
    if path.name.startswith("LICENSE."):
        return LICENSE_TYPE
    return TYPES.get(path.suffix)


@cache
def _asset(name: str) -> tuple[bytes, str] | None:
    """The file ``name`` of static/ and its media type (read once: they ship with the
    package); None for anything else (the page itself, names with a path)."""
    path = STATIC / name
    media_type = _media_type(path)
    if media_type is None or path.name != name or not path.is_file():
        return None
    return path.read_bytes(), media_type


def page(request: Request) -> Response:
    """GraphiQL's page (the same for everyone: the credential is typed into it)."""
    body = (STATIC / PAGE).read_bytes()
    return Response(body, 200, PAGE_HEADERS, media_type="text/html; charset=utf-8")


async def asset(request: Request) -> Response:
    found = _asset(request.path_params["name"])
    if found is None:
        return Response("no such file\n", 404, media_type="text/plain; charset=utf-8")
    body, media_type = found
    return Response(body, 200, ASSET_HEADERS, media_type=media_type)


def install(app: FastAPI) -> None:
    """The assets' route."""
    app.add_route(ASSETS_PATH, asset, methods=["GET"], include_in_schema=False)


__all__ = ["ASSETS_PATH", "PAGE_HEADERS", "STATIC", "install", "page"]
