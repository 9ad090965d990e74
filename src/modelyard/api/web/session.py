"""Who is signed in to this browser: the session cookie, read once per request.

The cookie is ``__Host-modelyard_session`` (Secure) when the issuer is https, else
``modelyard_session``; always HttpOnly, SameSite=Lax, Path=/, no Domain. It holds a random
token whose hash finds the ``web_sessions`` row (``registry/web_sessions.py``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from modelyard.registry.actors import LABEL_MAX, Actor
from modelyard.registry.scopes import SCOPES
from modelyard.services import Registry
from modelyard.settings import Settings

HOME = "/console"  # where a sign-in without `next` lands
AGAIN = "again"  # /login?again=1: the form even when signed in (prompt=login, max_age)


@dataclass(frozen=True)
class SignedIn:
    """The signed-in user of this request, and their session's CSRF token for forms."""

    user_id: uuid.UUID
    email: str
    display_name: str
    role: str
    session_id: uuid.UUID
    csrf_token: str
    auth_time: datetime

    def actor(self) -> Actor:
        """The user acting through this browser: every scope their role allows (a session
        is the person, not a delegated credential); audited as ``user:<email> (web)``."""
        label = f"user:{self.email} (web)"[:LABEL_MAX]
        return Actor(self.user_id, self.role, label, frozenset(SCOPES))


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def is_https(request: Request) -> bool:
    return _settings(request).issuer.lower().startswith("https://")


def cookie_name(request: Request, name: str) -> str:
    """``name`` with the ``__Host-`` prefix when cookies are Secure: browsers then refuse
    the cookie unless it is Secure, for this host only, on Path=/."""
    return f"__Host-{name}" if is_https(request) else name


def session_cookie(request: Request) -> str:
    return cookie_name(request, "modelyard_session")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        cookie_name(request, name),
        value,
        max_age=max_age,
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        cookie_name(request, name),
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="lax",
    )


async def signed_in(request: Request) -> SignedIn | None:
    """The user signed in to this browser, or None (no cookie, or its session ended:
    expired, signed out, user suspended or deleted, password changed)."""
    if hasattr(request.state, "signed_in"):
        cached: SignedIn | None = request.state.signed_in
        return cached
    token = request.cookies.get(session_cookie(request), "")
    found = None
    if token:
        registry: Registry = request.app.state.registry
        info = await registry.web_sessions.lookup(token)
        if info is not None:
            found = SignedIn(
                user_id=info.user_id,
                email=info.email,
                display_name=info.display_name,
                role=info.role,
                session_id=info.session_id,
                csrf_token=info.csrf_token,
                auth_time=info.created_at,
            )
    request.state.signed_in = found
    return found


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this server, else the account page: never an open
    redirect (no scheme, no host, no ``//`` or ``/\\`` that browsers read as a host)."""
    if not value or len(value) > 2000 or not value.startswith("/"):
        return HOME
    if value.startswith(("//", "/\\")) or any(c in value for c in "\\\r\n\t\x00"):
        return HOME
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return HOME
    return value


def login_redirect(request: Request) -> RedirectResponse:
    """To the sign-in page, coming back to this page (path and query) afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)
