"""GET/POST /oauth/authorize: the browser's side of the code flow.

The request is validated by Authlib first (a bad client or redirect URI is an error page,
never a redirect to an unregistered URI; other errors go back to the app's redirect URI).
Then: not signed in -> the sign-in page, back here afterwards; consent remembered for these
scopes (or the client skips consent) -> a code at once; else the consent page, whose form
posts back here with the session's CSRF token and "approve" or "deny"."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import OAuth2Error, scope_to_list
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from modelyard.api.oauth import bridge
from modelyard.api.oauth.models import Client, Person
from modelyard.api.oauth.server import ModelyardServer, server_of
from modelyard.api.oauth.wire import FormError, OAuthRequest, oauth_request
from modelyard.api.web.csrf import check_form
from modelyard.api.web.errors import PageError
from modelyard.api.web.render import render
from modelyard.api.web.session import AGAIN, SignedIn, signed_in
from modelyard.registry import oauth_codes
from modelyard.registry.scopes import DESCRIPTIONS

router = APIRouter(include_in_schema=False)


def _person(signed: SignedIn) -> Person:
    return Person(
        id=signed.user_id,
        email=signed.email,
        display_name=signed.display_name,
        role=signed.role,
        email_verified=False,  # not needed here: tokens and claims read the user again
        auth_time=signed.auth_time,
    )


def _error_page(error: OAuth2Error) -> PageError:
    description = error.get_error_description() or "The request is not valid."
    return PageError(
        400,
        "This sign-in request cannot be served",
        f"{description} ({error.error}). Go back to the app and try again; if it keeps "
        "happening, its developers must fix how it asks to sign in.",
    )


def _answer_error(server: ModelyardServer, oauth: OAuthRequest, error: OAuth2Error) -> Response:
    """Back to the app's (validated) redirect URI with the error, or an error page when the
    redirect URI could not be trusted."""
    if error.redirect_uri:
        return server.handle_error_response(oauth, error)
    raise _error_page(error)


def _not_signed_in(
    request: Request, server: ModelyardServer, oauth: OAuthRequest, grant: Any
) -> Response:
    """The sign-in page, or ``login_required`` to the app with ``prompt=none`` (Authlib
    refuses that only for openid requests; no page is ever shown for it)."""
    if "none" in (oauth.payload.data.get("prompt") or "").split():
        refusal = LoginRequiredError(redirect_uri=grant.redirect_uri, state=oauth.payload.state)
        return _answer_error(server, oauth, refusal)
    return _to_sign_in(request)


async def _issue(
    server: ModelyardServer, oauth: OAuthRequest, grant: object, person: Person | None
) -> Response:
    """A code for ``person`` (None: the user denied) redirected to the app."""
    response: Response = await bridge.in_thread(
        server.create_authorization_response, oauth, person, grant
    )
    return response


@router.api_route("/oauth/authorize", methods=["GET", "POST"])
async def authorize(request: Request) -> Response:
    """Every answer that goes back to the app (a code or an error, always a 302) names this
    issuer in ``iss`` (RFC 9207), so an app talking to several servers cannot be fooled
    into sending one's code to another."""
    response = await _authorize(request)
    location = response.headers.get("location")
    if response.status_code == 302 and location and not location.startswith("/"):
        response.headers["location"] = add_params_to_uri(
            location, [("iss", server_of(request).issuer)]
        )
    return response


async def _authorize(request: Request) -> Response:
    server = server_of(request)
    try:
        oauth = await oauth_request(request, params_from="query")
    except FormError as exc:
        raise PageError(
            400, "This sign-in request cannot be served", f"{str(exc).capitalize()}."
        ) from None
    except OAuth2Error as error:
        raise _error_page(error) from None
    if request.method == "POST" and not request.url.query and "response_type" in oauth.form:
        # OpenID Connect lets apps POST the request itself: it is the same as its GET
        return RedirectResponse(f"/oauth/authorize?{urlencode(oauth.form)}", status_code=303)
    signed = await signed_in(request)
    person = _person(signed) if signed is not None else None
    try:
        grant = await bridge.in_thread(server.get_consent_grant, oauth, person)
    except OAuth2Error as error:
        return _answer_error(server, oauth, error)
    if signed is None:
        return _not_signed_in(request, server, oauth, grant)
    if request.method == "POST":
        return await _decide(request, server, oauth, grant, signed)
    if _needs_fresh_sign_in(server, oauth, signed):
        return _sign_in_again(request, server, oauth, grant)
    return await _ask(request, server, oauth, grant, signed)


def _sign_in_again(
    request: Request, server: ModelyardServer, oauth: OAuthRequest, grant: Any
) -> Response:
    """``prompt=login`` or a stale ``max_age``: ``login_required`` to the app when no page
    may show (``prompt=none``), else the sign-in form. Nothing ends here: a GET is what any
    site can make a browser send, so ending the session would let every page sign its
    visitors out; the form is shown although signed in, and the new session replaces the
    old one (``login.py``)."""
    if "none" in (oauth.payload.data.get("prompt") or "").split():
        refusal = LoginRequiredError(redirect_uri=grant.redirect_uri, state=oauth.payload.state)
        return _answer_error(server, oauth, refusal)
    return _to_sign_in(request, again=True)


def _needs_fresh_sign_in(server: ModelyardServer, oauth: OAuthRequest, signed: SignedIn) -> bool:
    """OpenID Connect's ``prompt=login``, or a ``max_age`` (seconds) older than the sign-in."""
    data = oauth.payload.data
    if "login" in (data.get("prompt") or "").split():
        return True
    max_age = data.get("max_age") or ""
    if not (max_age.isascii() and max_age.isdigit()) or len(max_age) > 9:
        return False
    elapsed = int((server.db.clock() - signed.auth_time).total_seconds())
    return elapsed > int(max_age)


def _to_sign_in(request: Request, *, again: bool = False) -> Response:
    """The sign-in page, coming back to this request afterwards without ``prompt=login``
    (the sign-in just made satisfies it; kept, it would ask forever). ``again``: show the
    form even to a signed-in browser."""
    query = []
    for key, value in request.query_params.multi_items():
        kept = " ".join(p for p in value.split() if p != "login") if key == "prompt" else value
        if kept or key != "prompt":
            query.append((key, kept))
    here = request.url.path + (f"?{urlencode(query)}" if query else "")
    more = f"&{AGAIN}=1" if again else ""
    return RedirectResponse(f"/login?next={quote(here, safe='')}{more}", status_code=303)


async def _decide(
    request: Request, server: ModelyardServer, oauth: OAuthRequest, grant: Any, signed: SignedIn
) -> Response:
    """The consent form's answer: approve (remembered, then a code) or deny."""
    form = FormData(list(oauth.form.items()))
    await check_form(request, form, signed)
    client: Client = grant.request.client
    person = _person(signed)
    decision = oauth.form.get("decision")
    if decision == "approve":
        scopes = scope_to_list(grant.request.scope) or []
        await oauth_codes.remember_consent(server.db, person.id, client.row.id, scopes)
        return await _issue(server, oauth, grant, person)
    if decision == "deny":
        return await _issue(server, oauth, grant, None)
    raise PageError(400, "This form could not be read", "Choose Allow or Deny.")


async def _ask(
    request: Request, server: ModelyardServer, oauth: OAuthRequest, grant: Any, signed: SignedIn
) -> Response:
    """A code at once when consent covers the scopes, else the consent page (or, with
    prompt=none, consent_required back to the app)."""
    client: Client = grant.request.client
    person = _person(signed)
    scopes = scope_to_list(grant.request.scope) or []
    prompts = (oauth.payload.data.get("prompt") or "").split()
    remembered = await oauth_codes.consented(server.db, person.id, client.row.id)
    covered = client.row.skip_consent or set(scopes) <= remembered
    if covered and "consent" not in prompts:
        if not set(scopes) <= remembered:  # even a trusted app is listed as connected
            await oauth_codes.remember_consent(server.db, person.id, client.row.id, scopes)
        return await _issue(server, oauth, grant, person)
    if "none" in prompts:
        refusal = ConsentRequiredError(redirect_uri=grant.redirect_uri, state=oauth.payload.state)
        return _answer_error(server, oauth, refusal)
    return _consent_page(request, client, scopes, signed, grant.redirect_uri)


def _consent_page(
    request: Request,
    client: Client,
    scopes: list[str],
    signed: SignedIn,
    redirect_uri: str,
) -> Response:
    query = request.url.query
    return render(
        request,
        "consent.html",
        {
            "title": f"Allow {client.row.name}?",
            "signed": signed,
            "client": client.row,
            "scopes": [(s, DESCRIPTIONS.get(s, s)) for s in scopes],
            "destination": urlsplit(redirect_uri).netloc or urlsplit(redirect_uri).scheme,
            "action": "/oauth/authorize" + (f"?{query}" if query else ""),
            "csrf_token": signed.csrf_token,
        },
    )
