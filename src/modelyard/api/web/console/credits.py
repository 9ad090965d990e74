"""/console/credits: a balance, the subscription and the ledger (newest first, with the
balance after each entry, so the entries visibly add up to it). Members see their own and
nobody else's (``?user_id=`` of another user is not found). Admins pick a user (by email
or ``?user_id=``), grant them credits and adjust their balance (errors beside their
fields, nothing saved); without a user they see everyone's balances a page at a time."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from modelyard.api.web.console.access import not_found, posted, registry_of, viewer
from modelyard.api.web.console.billing_forms import (
    instant,
    page_request,
    status_of,
    values,
)
from modelyard.api.web.console.form_errors import FormErrors, form_errors
from modelyard.api.web.console.found import id_or_404
from modelyard.api.web.console.notices import notice
from modelyard.api.web.console.render import page
from modelyard.api.web.session import SignedIn
from modelyard.billing.credits import Adjustment, GrantCreate
from modelyard.errors import ModelyardError, NotFound, check
from modelyard.registry.common import PageRequest

router = APIRouter(include_in_schema=False)

BASE = "/console/credits"
GRANT = ("grant_amount", "grant_source", "grant_expires_at", "grant_reason")
ADJUST = ("adjust_amount", "adjust_reason")
SOURCES = (("purchase", "Purchase"), ("adjustment", "Adjustment (goodwill, correction)"))
DONE = {
    "granted": "The credits were granted.",
    "adjusted": "The balance was adjusted.",
}


@router.get(BASE)
async def credits(request: Request) -> Response:
    signed = await viewer(request)
    given = request.query_params.get("user_id")
    if signed.role != "admin":
        if given is not None and id_or_404(given) != signed.user_id:
            raise not_found()
        return await _account(request, signed, signed.user_id)
    if given is not None:
        return await _account(request, signed, id_or_404(given))
    email = request.query_params.get("email", "").strip()
    if email and "@" in email:
        try:
            found = (await registry_of(request).users.by_email(signed.actor(), email)).id
        except NotFound:
            pass
        else:
            return RedirectResponse(f"{BASE}?{urlencode({'user_id': found})}", status_code=303)
    return await _accounts(request, signed, email)


async def _accounts(request: Request, signed: SignedIn, search: str) -> Response:
    """Everyone's balances (admins): a page of users whose email holds ``search``."""
    found = await registry_of(request).billing_accounts.list(
        signed.actor(), page_request(request), search=search
    )
    context = {
        "title": "Credits",
        "found": found,
        "search": search,
        "base": f"{BASE}?{urlencode({'email': search})}&" if search else f"{BASE}?",
    }
    return page(request, signed, "credit_accounts.html", context)


async def _account(
    request: Request,
    signed: SignedIn,
    user_id: uuid.UUID,
    *,
    typed: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    failed: str = "",
    status: int = 200,
) -> Response:
    """One user's balance, subscription, grants and ledger (and, for admins, the forms)."""
    registry = registry_of(request)
    actor = signed.actor()
    try:
        user = await registry.users.get(actor, user_id)
        balance = await registry.credits.balance(actor, user_id)
    except NotFound:
        raise not_found() from None
    paging = page_request(request)
    ledger = await registry.credits.ledger(actor, paging, user_id)
    newer = Decimal(0)
    if ledger.items and paging.offset > 0:
        newer = await registry.billing_accounts.newer_than(actor, user_id, ledger.items[0].id)
    running = balance.balance - newer
    rows: list[dict[str, Any]] = []
    for entry in ledger.items:
        rows.append({"entry": entry, "after": running})
        running -= entry.amount
    subs = await registry.subscriptions.list(actor, PageRequest(limit=1), user_id=user_id)
    own = user_id == signed.user_id
    context = {
        "title": "Your credits" if own else f"Credits of {user.email}",
        "user": user,
        "own": own,
        "balance": balance,
        "ledger": ledger,
        "rows": rows,
        "subscription": subs.items[0] if subs.items else None,
        "base": f"{BASE}?{urlencode({'user_id': user_id})}&",
        "typed": dict.fromkeys(GRANT + ADJUST, "") | {"grant_source": "purchase"} | (typed or {}),
        "errors": errors or FormErrors(),
        "failed": failed,
        "sources": SOURCES,
        "notice": notice(request, DONE),
    }
    return page(request, signed, "credits.html", context, status=status)


async def _admin_form(
    request: Request, names: tuple[str, ...]
) -> tuple[SignedIn, Any, dict[str, str]]:
    signed = await viewer(request)
    if signed.role != "admin":
        raise not_found()
    form = await posted(request, signed)
    user_id = id_or_404(str(form.get("user_id", "")))
    return signed, user_id, values(form, names)


def _refused(exc: ModelyardError, prefix: str, about: str) -> FormErrors:
    fields = {path: f"{prefix}_{path}" for path in ("amount", "source", "expires_at", "reason")}
    return form_errors(exc, fields, about=about)


@router.post(f"{BASE}/grant")
async def grant(request: Request) -> Response:
    signed, user_id, typed = await _admin_form(request, GRANT)
    raw = {
        "user_id": user_id,
        "amount": typed["grant_amount"].strip(),
        "source": typed["grant_source"],
        "expires_at": instant(typed["grant_expires_at"]),
        "reason": typed["grant_reason"],
    }
    try:
        await registry_of(request).credits.grant(signed.actor(), check(GrantCreate, raw))
    except NotFound:
        raise not_found() from None
    except ModelyardError as exc:
        errors = _refused(exc, "grant", "grant_amount")
        return await _account(
            request,
            signed,
            user_id,
            typed=typed,
            errors=errors,
            failed="grant",
            status=status_of(exc),
        )
    return RedirectResponse(f"{BASE}?{urlencode({'user_id': user_id, 'done': 'granted'})}", 303)


@router.post(f"{BASE}/adjust")
async def adjust(request: Request) -> Response:
    signed, user_id, typed = await _admin_form(request, ADJUST)
    raw = {
        "user_id": user_id,
        "amount": typed["adjust_amount"].strip(),
        "reason": typed["adjust_reason"],
    }
    try:
        await registry_of(request).credits.adjust(signed.actor(), check(Adjustment, raw))
    except NotFound:
        raise not_found() from None
    except ModelyardError as exc:
        errors = _refused(exc, "adjust", "adjust_amount")
        return await _account(
            request,
            signed,
            user_id,
            typed=typed,
            errors=errors,
            failed="adjust",
            status=status_of(exc),
        )
    return RedirectResponse(f"{BASE}?{urlencode({'user_id': user_id, 'done': 'adjusted'})}", 303)
