"""GET /console/keys: API keys, newest first, a page at a time. A member sees their own; an
admin everyone's, or one owner's (``?user_id=`` or the owner's email). Revoking asks first
and answers 404 for a key that is not the viewer's (an admin's: any)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from modelyard.api.web.console.access import posted, registry_of, viewer
from modelyard.api.web.console.found import found
from modelyard.api.web.console.inputs import offset_of
from modelyard.api.web.console.notices import notice, redirect
from modelyard.api.web.console.render import page
from modelyard.errors import Conflict, NotFound
from modelyard.registry.common import PageRequest

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
STATES = (("active", "Not revoked"), ("revoked", "Revoked"), ("all", "All"))
DONE = {
    "revoked": "Key revoked: it stops working at once.",
    "already": "That key was already revoked.",
}


@router.get("/console/keys")
async def keys(request: Request) -> Response:
    signed = await viewer(request)
    registry, actor = registry_of(request), signed.actor()
    query = request.query_params
    state = query.get("state", "active")
    state = state if state in ("active", "revoked", "all") else "active"
    owner_email = query.get("owner", "").strip()[:320] if signed.role == "admin" else ""
    owner_id = query.get("user_id", "").strip()[:100] or None
    unknown_owner = False
    if signed.role == "admin":
        if owner_id is not None:
            owner = await found(registry.users.get(actor, owner_id))
            owner_email, owner_id = owner.email, str(owner.id)
        elif owner_email:
            try:
                owner_id = str((await registry.users.by_email(actor, owner_email)).id)
            except NotFound:
                unknown_owner = True
    revoked = None if state == "all" else state == "revoked"
    listing = None
    if not unknown_owner:
        listing = await found(
            registry.keys.page(
                actor,
                PageRequest(limit=PAGE_SIZE, offset=offset_of(request)),
                user_id=owner_id,
                revoked=revoked,
            )
        )
    kept = {"owner": owner_email, "state": state if state != "active" else ""}
    params = urlencode({k: v for k, v in kept.items() if v})
    context = {
        "title": "API keys",
        "keys": listing,
        "owner": owner_email,
        "unknown_owner": unknown_owner,
        "state": state,
        "states": STATES,
        "base": "/console/keys?" + (f"{params}&" if params else ""),
        "notice": notice(request, DONE),
        "new_url": "/console/keys/new"
        + (f"?user_id={owner_id}" if owner_id and signed.role == "admin" else ""),
    }
    return page(request, signed, "keys.html", context)


@router.post("/console/keys/{key_id}/revoke")
async def revoke(request: Request, key_id: str) -> Response:
    signed = await viewer(request)
    await posted(request, signed)
    try:
        await found(registry_of(request).keys.revoke(signed.actor(), key_id))
    except Conflict:
        return redirect("/console/keys", "already")
    return redirect("/console/keys", "revoked")
