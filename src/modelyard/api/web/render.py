"""Rendering the server's pages: one Jinja2 environment (autoescaped, undefined names are
errors) over ``api/web/templates/``, and the headers every page carries.

Pages load nothing from elsewhere: no CDN, no inline script or style, so the Content
Security Policy can forbid everything but this server's own stylesheet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# No form-action: a consent form's answer redirects to the client's own redirect URI,
# which browsers would otherwise refuse to follow.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def render(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    """``template`` rendered with ``context``; every template sees ``request`` and, unless
    the page passes one, ``signed`` (None: the header then shows no account links) and
    ``title``."""
    values: dict[str, Any] = {"request": request, "signed": None, "title": "modelyard"}
    values.update(context)
    html = environment.get_template(template).render(values)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
