"""Signing in through an upstream OpenID provider (``MODELYARD_OIDC_*``):
GET /login/upstream sends the browser to the provider, GET /login/upstream/callback brings
it back signed in.

Between the two, the flow's state, nonce, PKCE verifier and the page to return to wait in a
short-lived cookie sealed with the master key (AES-GCM under its own context, so no other
sealed value opens as one): nothing is stored server-side for a sign-in that is never
finished. The callback takes it once (the cookie is cleared whatever happens), and any failure
(the person declined, a state that is not this browser's, an unusable token, a provider that
cannot be reached, an account that may not sign in) is an error page that changes nothing.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import asdict, dataclass

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from modelyard.api.web import csrf
from modelyard.api.web.errors import PageError
from modelyard.api.web.login import SESSION
from modelyard.api.web.oidc_client import (
    UpstreamError,
    UpstreamProvider,
    provider_name,
    same_issuer,
)
from modelyard.api.web.session import clear_cookie, cookie_name, safe_next, set_cookie, signed_in
from modelyard.errors import Conflict, Forbidden, SecretUnreadable
from modelyard.registry import upstream_sign_in as outcomes
from modelyard.registry.secrets import Keyring
from modelyard.registry.sign_in import Where
from modelyard.services import Registry
from modelyard.settings import Settings

router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "modelyard_upstream"
FLOW_CONTEXT = "modelyard:upstream-oidc-flow:v1"
FLOW_TTL_S = 600
CALLBACK = "/login/upstream/callback"
_ERROR_CODE = re.compile(r"[a-z_]{1,50}")
REFUSALS = {
    outcomes.INACTIVE: "This account cannot sign in: it is suspended or deleted.",
    outcomes.UNKNOWN: (
        "There is no account here for the email address the provider gave. Ask an "
        "administrator to create one."
    ),
    outcomes.UNVERIFIED: (
        "The provider did not confirm an email address for this account, so it cannot be "
        "matched to an account here. Sign in with your password instead."
    ),
    outcomes.LINKED_ELSEWHERE: (
        "The account here with this email address is linked to another account at the "
        "provider. Sign in with that one, or with your password."
    ),
}


@dataclass(frozen=True)
class Flow:
    """One sign-in on its way through the provider."""

    issuer: str
    state: str
    nonce: str
    verifier: str
    next: str
    expires: float


def _provider(request: Request) -> UpstreamProvider:
    provider: UpstreamProvider | None = getattr(request.app.state, "upstream_oidc", None)
    if provider is None:
        raise PageError(404, "Not found", "Sign-in through another provider is not set up here.")
    return provider


def _keyring(request: Request) -> Keyring:
    registry: Registry = request.app.state.registry
    keyring = registry.db.keyring
    if keyring is None:
        raise PageError(503, "Sign-in is unavailable", "The server has no master key yet.")
    return keyring


def _redirect_uri(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.issuer + CALLBACK


def seal_flow(keyring: Keyring, flow: Flow) -> str:
    return keyring.seal(orjson.dumps(asdict(flow)).decode(), context=FLOW_CONTEXT)


def open_flow(keyring: Keyring, sealed: str, issuer: str) -> Flow | None:
    """The flow a cookie holds, if it is one this server sealed, unexpired, for ``issuer``."""
    if not sealed or len(sealed) > 4000:
        return None
    try:
        flow = Flow(**orjson.loads(keyring.open(sealed, context=FLOW_CONTEXT)))
    except (SecretUnreadable, ValueError, TypeError):
        return None
    if flow.expires < time.time() or flow.issuer != issuer:
        return None
    return flow


def _failed(title: str, message: str, status: int) -> PageError:
    return PageError(status, title, f"{message} Go back to the sign-in page to try again.")


@router.get("/login/upstream")
async def start(request: Request, next: str | None = None) -> Response:
    """To the provider's authorization endpoint, with state, nonce and PKCE (S256)."""
    provider = _provider(request)
    keyring = _keyring(request)
    try:
        endpoints = await provider.endpoints()
    except UpstreamError as exc:
        raise _failed("Sign-in failed", exc.message, exc.status) from None
    flow = Flow(
        issuer=provider.issuer,
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        verifier=secrets.token_urlsafe(48),
        next=safe_next(next),
        expires=time.time() + FLOW_TTL_S,
    )
    url = provider.authorization_url(
        endpoints, _redirect_uri(request), flow.state, flow.nonce, flow.verifier
    )
    response = RedirectResponse(url, status_code=303)
    set_cookie(request, response, FLOW_COOKIE, seal_flow(keyring, flow), FLOW_TTL_S)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(CALLBACK)
async def callback(request: Request) -> Response:
    """Back from the provider: the flow checked, the code exchanged, the ID token
    verified, the person found (or linked, or created), a session opened."""
    provider = _provider(request)
    try:
        response = await _finish(request, provider)
    except PageError as exc:
        exc.headers["Set-Cookie"] = _expired_flow_cookie(request)
        raise
    clear_cookie(request, response, FLOW_COOKIE)
    return response


def _expired_flow_cookie(request: Request) -> str:
    cleared = Response()
    clear_cookie(request, cleared, FLOW_COOKIE)
    return cleared.headers["set-cookie"]


async def _finish(request: Request, provider: UpstreamProvider) -> Response:
    params = request.query_params
    sealed = request.cookies.get(cookie_name(request, FLOW_COOKIE), "")
    flow = open_flow(_keyring(request), sealed, provider.issuer)
    if flow is None:
        raise _failed(
            "Sign-in expired",
            "This sign-in was started too long ago, or in another browser.",
            400,
        )
    state = params.get("state", "")
    if not hmac.compare_digest(state.encode(), flow.state.encode()):
        raise _failed("Sign-in failed", "This answer is not for this browser's sign-in.", 400)
    answered_by = params.get("iss")  # RFC 9207: a provider that names itself must be ours
    if answered_by is not None and not same_issuer(answered_by, provider.issuer):
        raise _failed("Sign-in failed", "This answer comes from another provider.", 400)
    error = params.get("error")
    if error is not None:
        if error == "access_denied":
            message = f"Sign-in with {provider.name} was cancelled."
            raise _failed("Sign-in cancelled", message, 403)
        code = error if _ERROR_CODE.fullmatch(error) else "unknown"
        raise _failed("Sign-in failed", f"{provider.name} refused the sign-in ({code}).", 400)
    code = params.get("code", "")
    if not code or len(code) > 2000:
        raise _failed("Sign-in failed", f"{provider.name} sent no authorization code.", 400)
    try:
        person = await provider.person(code, _redirect_uri(request), flow.verifier, flow.nonce)
    except UpstreamError as exc:
        raise _failed("Sign-in failed", exc.message, exc.status) from None
    return await _open_session(request, person, flow)


async def _open_session(request: Request, person: outcomes.UpstreamPerson, flow: Flow) -> Response:
    registry: Registry = request.app.state.registry
    settings: Settings = request.app.state.settings
    where = Where(
        address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )
    try:
        token, info = await registry.upstream_sign_in.sign_in(
            person, create_users=settings.oidc_create_users, where=where
        )
    except Forbidden as exc:
        message = REFUSALS.get(exc.code, "This account cannot sign in here.")
        raise PageError(403, "Sign-in refused", message) from None
    except Conflict:  # the same person signing in twice at once: the other one won
        raise _failed("Sign-in failed", "This account was just being set up.", 409) from None
    previous = await signed_in(request)
    if previous is not None:  # a new sign-in replaces this browser's old session
        await registry.web_sessions.end(previous.session_id)
    response = RedirectResponse(flow.next, status_code=303)
    age = max(1, int((info.expires_at - info.created_at).total_seconds()))
    set_cookie(request, response, SESSION, token, age)
    csrf.forget_login_token(request, response)
    return response


def install(app: FastAPI) -> None:
    """Mount the upstream sign-in when ``MODELYARD_OIDC_*`` configure a provider."""
    settings: Settings = app.state.settings
    if settings.upstream_oidc:
        assert settings.oidc_issuer is not None
        assert settings.oidc_client_id is not None
        assert settings.oidc_client_secret is not None
        app.state.upstream_oidc = UpstreamProvider(
            settings.oidc_issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret,
            provider_name(settings.oidc_issuer, settings.oidc_name),
        )
    app.include_router(router)
