"""GET /account/apps: the apps the signed-in user connected, each with a button that
disconnects it (consent deleted, its tokens revoked)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from modelyard.api.web.csrf import check_form
from modelyard.api.web.errors import PageError
from modelyard.api.web.forms import read_form, text
from modelyard.api.web.render import render
from modelyard.api.web.session import SignedIn, login_redirect, signed_in
from modelyard.errors import NotFound
from modelyard.services import Registry

router = APIRouter(include_in_schema=False)
PAGE = "/account/apps"


async def _page(request: Request, signed: SignedIn, notice: str = "") -> Response:
    registry: Registry = request.app.state.registry
    apps = await registry.connected_apps.list(signed.actor())
    context = {"title": "Connected apps", "signed": signed, "apps": apps, "notice": notice}
    return render(request, "apps.html", context)


@router.get(PAGE)
async def apps(request: Request) -> Response:
    signed = await signed_in(request)
    if signed is None:
        return login_redirect(request)
    return await _page(request, signed)


@router.post("/account/apps/revoke")
async def revoke(request: Request) -> Response:
    signed = await signed_in(request)
    if signed is None:  # back to the page afterwards: this address answers only POST
        return RedirectResponse(f"/login?next={quote(PAGE, safe='')}", status_code=303)
    form = await read_form(request)
    await check_form(request, form, signed)
    registry: Registry = request.app.state.registry
    try:
        app = await registry.connected_apps.revoke(signed.actor(), text(form, "client_id"))
    except NotFound:
        raise PageError(
            404, "App not found", "That app is not connected to your account (any more)."
        ) from None
    notice = f"{app.name} is disconnected: it can no longer act for you."
    return await _page(request, signed, notice)
