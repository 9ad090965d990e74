"""/console/audit: the audit trail (admins; members get 404). Events newest first with
their changes as a diff, filtered by time, who acted, action and entity; one event in full
at /console/audit/{id}; and "Verify the chain", which checks every event's hash and names
the first broken one."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from fastapi import APIRouter, Request, Response

from modelyard.api.web.console.access import admin, not_found, posted, registry_of
from modelyard.api.web.console.audit_diff import changes, document
from modelyard.api.web.console.audit_query import PAGE_SIZE, read_query
from modelyard.api.web.console.render import is_partial, page
from modelyard.api.web.session import SignedIn
from modelyard.errors import NotFound
from modelyard.registry.audit_log import AuditEventView, AuditSlice

router = APIRouter(include_in_schema=False)
STYLES = ("console-audit.css",)


def shown(event: AuditEventView) -> dict[str, Any]:
    """An event as the pages show it: its changes, and both documents in full (masked)."""
    if event.before is None and event.after is not None:
        kind = "created"
    elif event.after is None and event.before is not None:
        kind = "removed"
    else:
        kind = "changed"
    return {
        "event": event,
        "kind": kind,
        "changes": changes(event.before, event.after),
        "before": document(event.before),
        "after": document(event.after),
    }


async def _listing(
    request: Request, signed: SignedIn, chain: dict[str, Any] | None = None
) -> Response:
    registry = registry_of(request)
    actor = signed.actor()
    query = read_query(request.query_params)
    found: AuditSlice | None = None
    if query.filters is not None:
        found = await registry.audit.browse(
            actor, query.filters, before=query.before, limit=PAGE_SIZE
        )
    choices = await registry.audit.choices(actor)
    context = {
        "title": "Audit trail",
        "styles": STYLES,
        "query": query,
        "errors": query.errors,
        "found": found,
        "rows": [shown(e) for e in found.items] if found else [],
        "choices": choices,
        "chain": chain,
    }
    return page(
        request,
        signed,
        "audit.html",
        context,
        status=422 if query.errors else 200,
        fragment="audit_verify.html",
    )


@router.get("/console/audit")
async def audit_trail(request: Request) -> Response:
    return await _listing(request, await admin(request))


@router.post("/console/audit/verify")
async def verify(request: Request) -> Response:
    """Checks the whole chain; with console.js only the outcome comes back."""
    signed = await admin(request)
    await posted(request, signed)
    registry = registry_of(request)
    actor = signed.actor()
    report = await registry.audit.verify(actor)
    chain: dict[str, Any] = {"report": report, "broken": None}
    if report.broken_at is not None:
        with suppress(NotFound):  # removed since: the report still names it
            chain["broken"] = await registry.audit.get(actor, report.broken_at)
    if is_partial(request):  # console.js asked for the outcome alone
        return page(request, signed, "audit.html", {"chain": chain}, fragment="audit_verify.html")
    return await _listing(request, signed, chain)


@router.get("/console/audit/{event_id}")
async def audit_event(request: Request, event_id: str) -> Response:
    signed = await admin(request)
    if not (event_id.isascii() and event_id.isdigit()) or len(event_id) > 19:
        raise not_found()
    try:
        event, problem = await registry_of(request).audit.inspect(signed.actor(), int(event_id))
    except NotFound:
        raise not_found() from None
    context = {"title": f"Audit event {event.id}", "styles": STYLES, "problem": problem}
    context |= shown(event)
    return page(request, signed, "audit_event.html", context)
