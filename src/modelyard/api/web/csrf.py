"""Cross-site request forgery: every form post proves it came from this server's page.

Signed-in forms carry their session's CSRF token (``web_sessions.csrf_token``); the sign-in
form, which has no session yet, carries a random token that must equal its cookie (double
submit). Either way, an ``Origin`` (or, without one, a ``Referer``) header must name the
issuer's origin when the browser sends it. Tokens are compared in constant time."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response
from starlette.datastructures import FormData

from modelyard.api.web.errors import PageError
from modelyard.api.web.session import SignedIn, clear_cookie, cookie_name, set_cookie
from modelyard.settings import Settings

FIELD = "csrf_token"
LOGIN_COOKIE = "modelyard_login_csrf"
LOGIN_COOKIE_AGE = 3600
_DEFAULT_PORTS = {"http": 80, "https": 443}


def refused(why: str) -> PageError:
    return PageError(
        403,
        "This form could not be accepted",
        f"{why} Go back, reload the page and send the form again.",
    )


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    port = port or _DEFAULT_PORTS[parts.scheme]
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


def check_origin(request: Request) -> None:
    """The form was sent from a page of this server, when the browser says where from."""
    settings: Settings = request.app.state.settings
    expected = _origin(settings.issuer)
    origin = request.headers.get("origin")
    if origin is not None:
        if _origin(origin) != expected:
            raise refused("The form was sent from another site.")
        return
    referer = request.headers.get("referer")
    if referer is not None and _origin(referer) != expected:
        raise refused("The form was sent from another site.")


def _same(given: object, expected: str) -> bool:
    return (
        isinstance(given, str)
        and bool(expected)
        and hmac.compare_digest(given.encode(), expected.encode())
    )


async def check_form(request: Request, form: FormData, signed: SignedIn) -> None:
    """A signed-in user's form post: same origin and their session's token, else a 403
    error page (raised)."""
    check_origin(request)
    if not _same(form.get(FIELD), signed.csrf_token):
        raise refused("The form's security token is missing or out of date.")


def login_token(request: Request) -> str:
    """The sign-in form's token: the one in this browser's cookie, else a new one (the page
    then sets it with :func:`remember_login_token`)."""
    current = request.cookies.get(cookie_name(request, LOGIN_COOKIE), "")
    return current if 20 <= len(current) <= 100 else secrets.token_urlsafe(32)


def remember_login_token(request: Request, response: Response, token: str) -> None:
    set_cookie(request, response, LOGIN_COOKIE, token, LOGIN_COOKIE_AGE)


def forget_login_token(request: Request, response: Response) -> None:
    clear_cookie(request, response, LOGIN_COOKIE)


def check_login_form(request: Request, form: FormData) -> None:
    """The sign-in form: same origin, and its token equals its cookie's."""
    check_origin(request)
    cookie = request.cookies.get(cookie_name(request, LOGIN_COOKIE), "")
    if not _same(form.get(FIELD), cookie):
        raise refused("The sign-in form's security token is missing or out of date.")
