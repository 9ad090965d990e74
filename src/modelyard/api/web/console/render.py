"""Rendering a console page: the shared layout (navigation for the viewer's role, the
account links), the viewer's CSRF token for forms, and headers that let the page run this
server's own scripts and nothing else.

A request sent by ``console.js`` for a partial update carries ``X-Partial: 1``; the page
then answers only the fragment it names (see :func:`page`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from modelyard.api.web.console import filters  # noqa: F401  (registers the filters)
from modelyard.api.web.render import PAGE_HEADERS, environment
from modelyard.api.web.session import SignedIn

# Console pages run /static/console.js (and an area's own script): no inline script, no
# other origin. Forms post only here.
HEADERS = PAGE_HEADERS | {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    admin: bool  # admins only (members get 404 there)


NAV: tuple[NavItem, ...] = (
    NavItem("/console", "Dashboard", admin=False),
    NavItem("/console/models", "Models", admin=True),
    NavItem("/console/infrastructure", "Infrastructure", admin=True),
    NavItem("/console/providers", "Providers", admin=False),
    NavItem("/console/users", "Users", admin=True),
    NavItem("/console/keys", "API keys", admin=False),
    NavItem("/console/oauth-clients", "OAuth clients", admin=True),
    NavItem("/console/plans", "Plans", admin=True),
    NavItem("/console/subscriptions", "Subscriptions", admin=True),
    NavItem("/console/credits", "Credits", admin=False),
    NavItem("/console/usage", "Usage", admin=False),
    NavItem("/console/audit", "Audit trail", admin=True),
)


def nav_for(signed: SignedIn, path: str) -> list[dict[str, Any]]:
    """The viewer's navigation, the item this page belongs to marked ``current``."""
    items = [item for item in NAV if signed.role == "admin" or not item.admin]
    best = max(
        (i for i in items if path == i.path or path.startswith(i.path + "/")),
        key=lambda i: len(i.path),
        default=None,
    )
    return [{"path": i.path, "label": i.label, "current": i is best} for i in items]


def is_partial(request: Request) -> bool:
    return request.headers.get("x-partial") == "1"


def page(
    request: Request,
    signed: SignedIn,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    fragment: str | None = None,
) -> HTMLResponse:
    """``console/<template>`` in the layout. With ``fragment`` (a template too) and a
    partial request, only the fragment is rendered: the same context, no layout."""
    values: dict[str, Any] = {
        "request": request,
        "signed": signed,
        "csrf_token": signed.csrf_token,
        "is_admin": signed.role == "admin",
        "nav": nav_for(signed, request.url.path),
        "title": "Console",
        "notice": "",
        "scripts": (),
        "styles": (),
    }
    values.update(context)
    name = fragment if fragment is not None and is_partial(request) else template
    html = environment.get_template(f"console/{name}").render(values)
    return HTMLResponse(html, status_code=status, headers=HEADERS)
