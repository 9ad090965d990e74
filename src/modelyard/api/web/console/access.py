"""Who may see a console page, and reading its forms.

Every page needs a signed-in browser (else a redirect to the sign-in page, back here after);
admin pages answer 404 to members, as if they were not there. Every form post carries the
session's CSRF token and comes from this server's own pages (``csrf.check_form``)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from modelyard.api.web.csrf import check_form
from modelyard.api.web.errors import PageError
from modelyard.api.web.forms import read_form
from modelyard.api.web.session import SignedIn, signed_in
from modelyard.services import Registry

HOME = "/console"


class SignInFirst(Exception):
    """Raised by a console page when the browser is not signed in."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


async def sign_in_first(request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, SignInFirst)
    return RedirectResponse(f"/login?next={quote(exc.back_to, safe='')}", status_code=303)


def not_found() -> PageError:
    return PageError(404, "Not found", "There is no such page here.")


async def viewer(request: Request) -> SignedIn:
    """The signed-in user; a GET comes back to itself after signing in, a form post to the
    console's first page (its form would have to be sent again anyway)."""
    signed = await signed_in(request)
    if signed is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInFirst(here if request.method == "GET" else HOME)
    return signed


async def admin(request: Request) -> SignedIn:
    """The signed-in admin; to a member the page does not exist (404)."""
    signed = await viewer(request)
    if signed.role != "admin":
        raise not_found()
    return signed


# Console forms are larger than the sign-in pages' (a declarative provider's JSON, a plan's
# limits): 256 KiB and 200 fields at most.
MAX_BODY = 256 * 1024
MAX_FIELDS = 200


async def posted(request: Request, signed: SignedIn) -> FormData:
    """A console form post: bounded, text only, same origin, the session's CSRF token."""
    form = await read_form(request, max_body=MAX_BODY, max_fields=MAX_FIELDS)
    await check_form(request, form, signed)
    return form


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry
