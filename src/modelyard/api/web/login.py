"""GET/POST /login and GET/POST /logout: signing in with a password, signing out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from modelyard.api.web import csrf
from modelyard.api.web.forms import read_form, text
from modelyard.api.web.render import render
from modelyard.api.web.session import (
    clear_cookie,
    safe_next,
    set_cookie,
    signed_in,
)
from modelyard.errors import Forbidden, TooManyAttempts, Unauthenticated
from modelyard.registry.sign_in import Where
from modelyard.services import Registry

router = APIRouter(include_in_schema=False)
SESSION = "modelyard_session"


def _upstream_name(request: Request) -> str | None:
    """The upstream OpenID provider's name for its button, when one is configured."""
    provider = getattr(request.app.state, "upstream_oidc", None)
    return None if provider is None else str(provider.name)


def _login_page(
    request: Request, next_path: str, email: str = "", error: str = "", status: int = 200
) -> Response:
    token = csrf.login_token(request)
    context: dict[str, Any] = {
        "title": "Sign in",
        "next": next_path,
        "email": email,
        "error": error,
        "csrf_token": token,
        "upstream": _upstream_name(request),
    }
    response = render(request, "login.html", context, status=status)
    csrf.remember_login_token(request, response, token)
    return response


@router.get("/login")
async def login_form(request: Request, next: str | None = None, again: str = "") -> Response:
    """The sign-in form; a signed-in browser goes straight to ``next`` unless asked to sign
    in again (``again``, from an app's prompt=login or max_age)."""
    target = safe_next(next)
    signed = await signed_in(request)
    if signed is not None and not again:
        return RedirectResponse(target, status_code=303)
    return _login_page(request, target, signed.email if signed is not None else "")


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    csrf.check_login_form(request, form)
    email, password = text(form, "email"), text(form, "password")
    target = safe_next(text(form, "next"))
    if not email or not password:
        return _login_page(request, target, email, "Enter your email and your password.", 400)
    registry: Registry = request.app.state.registry
    where = Where(
        address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )
    try:
        token, info = await registry.sign_in.with_password(email, password, where)
    except TooManyAttempts as exc:
        response = _login_page(request, target, email, exc.message, 429)
        response.headers["Retry-After"] = str(exc.details["retry_after"])
        return response
    except Unauthenticated:
        return _login_page(request, target, email, "Wrong email or password.", 401)
    except Forbidden:
        message = "This account cannot sign in: it is suspended or deleted."
        return _login_page(request, target, email, message, 403)
    previous = await signed_in(request)
    if previous is not None:  # a new sign-in replaces this browser's old session
        await registry.web_sessions.end(previous.session_id)
    response = RedirectResponse(target, status_code=303)
    age = max(1, int((info.expires_at - info.created_at).total_seconds()))
    set_cookie(request, response, SESSION, token, age)
    csrf.forget_login_token(request, response)
    return response


@router.get("/logout")
async def logout_form(request: Request) -> Response:
    signed = await signed_in(request)
    if signed is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, "logout.html", {"title": "Sign out", "signed": signed})


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await read_form(request)
    signed = await signed_in(request)
    if signed is None:  # already signed out: nothing to forge
        response: Response = RedirectResponse("/login", status_code=303)
    else:
        await csrf.check_form(request, form, signed)
        registry: Registry = request.app.state.registry
        await registry.web_sessions.end(signed.session_id)
        response = render(request, "signed_out.html", {"title": "Signed out"})
    clear_cookie(request, response, SESSION)
    return response
