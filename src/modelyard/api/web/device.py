"""GET/POST /device: where a person approves a device's sign-in (RFC 8628).

The device shows a user code and this page's address (or the address with the code in it).
Signed-in users enter the code, see which app asks and for what, and approve or deny with a
CSRF-checked form. Looking a code up changes nothing, so it is a GET form; the page never
says more about a code than "unknown, expired or already used". The page always asks, even
when the user consented to the app before: the code may have come from someone else's device.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request, Response

from modelyard.api.web import csrf
from modelyard.api.web.forms import read_form, text
from modelyard.api.web.render import render
from modelyard.api.web.session import SignedIn, login_redirect, signed_in
from modelyard.errors import NotFound, TooManyAttempts
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_devices import DeviceRequest
from modelyard.registry.scopes import DESCRIPTIONS
from modelyard.services import Registry

router = APIRouter(include_in_schema=False)
DECISIONS = {"approve": True, "deny": False}


def _actor(signed: SignedIn) -> Actor:
    """The signed-in person, as the registry's services see them (no API scopes needed:
    deciding on a device's request is their own business)."""
    return Actor.user(signed.user_id, signed.role, signed.email, frozenset())


def _scopes(found: DeviceRequest) -> list[dict[str, str]]:
    return [{"name": s, "description": DESCRIPTIONS.get(s, s)} for s in found.scopes]


def _page(request: Request, signed: SignedIn, status: int = 200, **context: Any) -> Response:
    values: dict[str, Any] = {"title": "Connect a device", "signed": signed, "error": ""}
    values.update(context)
    return render(request, "device.html", values, status=status)


def _echo(typed: str) -> str:
    """What the person typed, shown back in the field: short and printable only."""
    return "".join(ch for ch in typed[:32] if ch.isprintable())


def _throttled(request: Request, signed: SignedIn, exc: TooManyAttempts) -> Response:
    minutes = max(1, math.ceil(int(exc.details["retry_after"]) / 60))
    message = f"You entered too many wrong codes. Try again in {minutes} minutes."
    response = _page(request, signed, 429, typed="", error=message, found=None)
    response.headers["Retry-After"] = str(int(exc.details["retry_after"]))
    return response


def _unknown(request: Request, signed: SignedIn, typed: str) -> Response:
    message = (
        "That code is unknown, expired or already used. Check it, or start again on your device."
    )
    return _page(request, signed, 404, typed=_echo(typed), error=message, found=None)


@router.get("/device")
async def device_page(request: Request, user_code: str | None = None) -> Response:
    signed = await signed_in(request)
    if signed is None:
        return login_redirect(request)
    if not user_code:
        return _page(request, signed, typed="", found=None)
    registry: Registry = request.app.state.registry
    try:
        found = await registry.oauth_devices.pending(_actor(signed), user_code)
    except NotFound:
        return _unknown(request, signed, user_code)
    except TooManyAttempts as exc:
        return _throttled(request, signed, exc)
    return _page(request, signed, typed=found.user_code, found=found, scopes=_scopes(found))


@router.post("/device")
async def device_decide(request: Request) -> Response:
    form = await read_form(request)
    signed = await signed_in(request)
    if signed is None:
        return login_redirect(request)
    await csrf.check_form(request, form, signed)
    typed, decision = text(form, "user_code"), text(form, "decision")
    if decision not in DECISIONS:
        return _page(
            request, signed, 400, typed=_echo(typed), found=None, error="Choose Approve or Deny."
        )
    registry: Registry = request.app.state.registry
    try:
        found = await registry.oauth_devices.decide(
            _actor(signed), typed, approve=DECISIONS[decision]
        )
    except NotFound:
        return _unknown(request, signed, typed)
    except TooManyAttempts as exc:
        return _throttled(request, signed, exc)
    approved = DECISIONS[decision]
    context: dict[str, Any] = {
        "title": "Device connected" if approved else "Device refused",
        "signed": signed,
        "found": found,
        "approved": approved,
    }
    return render(request, "device_done.html", context)
