"""/console/subscriptions (admins): subscriptions newest first, filtered by user (email),
plan and status, a page at a time; subscribe a user to a plan (errors beside their fields);
suspend, resume and cancel (after a confirmation); and run the billing renewal now."""

from __future__ import annotations

from typing import Any, Literal, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from modelyard.api.web.console.access import admin, not_found, posted, registry_of
from modelyard.api.web.console.billing_forms import (
    page_request,
    status_of,
    values,
)
from modelyard.api.web.console.form_errors import FormErrors, form_errors
from modelyard.api.web.console.found import id_or_404
from modelyard.api.web.console.notices import notice
from modelyard.api.web.console.render import page
from modelyard.api.web.session import SignedIn
from modelyard.billing import periods
from modelyard.billing.subscriptions import Status, SubscriptionCreate, SubscriptionUpdate
from modelyard.errors import ModelyardError, NotFound, check

router = APIRouter(include_in_schema=False)

BASE = "/console/subscriptions"
FIELDS = ("user_email", "plan_name", "external_customer_id", "external_subscription_id")
STATUSES: tuple[str, ...] = get_args(Status)
CHANGES: dict[str, Literal["active", "suspended", "cancelled"]] = {
    "suspend": "suspended",
    "resume": "active",
    "cancel": "cancelled",
}
DONE = {
    "subscribed": "The user was subscribed and given the plan's credits for this period.",
    "suspended": "The subscription was suspended.",
    "active": "The subscription was resumed.",
    "cancelled": "The subscription was cancelled.",
}


async def _filters(request: Request, signed: SignedIn) -> tuple[dict[str, Any], FormErrors]:
    """The list's filters from the query: a user by email, a plan id, a status; a plan or
    status that is not one of the page's choices is not found."""
    query = request.query_params
    chosen = {name: query.get(name, "").strip() for name in ("user", "plan", "status")}
    found: dict[str, Any] = {"user_id": None, "plan_id": None, "status": None}
    errors = FormErrors()
    if chosen["user"]:
        try:
            user = await registry_of(request).users.by_email(signed.actor(), chosen["user"])
            found["user_id"] = user.id
        except NotFound:
            errors.add("user", "No user has this email.")
    if chosen["plan"]:
        found["plan_id"] = id_or_404(chosen["plan"])
    if chosen["status"]:
        if chosen["status"] not in STATUSES:
            raise not_found()
        found["status"] = chosen["status"]
    return chosen | found, errors


async def _list(
    request: Request,
    signed: SignedIn,
    *,
    typed: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    alert: str = "",
    status: int = 200,
) -> Response:
    registry = registry_of(request)
    actor = signed.actor()
    chosen, filter_errors = await _filters(request, signed)
    plans = await registry.plans.list(actor, include_inactive=True)
    if chosen["plan_id"] is not None and chosen["plan_id"] not in {p.id for p in plans}:
        raise not_found()
    paging = page_request(request)
    if filter_errors:
        found = None
    else:
        found = await registry.subscriptions.list(
            actor,
            paging,
            user_id=chosen["user_id"],
            status=chosen["status"],
            plan_id=chosen["plan_id"],
        )
    emails = await registry.users.emails(actor, [s.user_id for s in found.items] if found else [])
    kept = {k: chosen[k] for k in ("user", "plan", "status") if chosen[k]}
    context = {
        "title": "Subscriptions",
        "found": found,
        "emails": emails,
        "chosen": chosen,
        "filter_errors": filter_errors,
        "base": f"{BASE}?{urlencode(kept)}&" if kept else f"{BASE}?",
        "plans": plans,
        "plan_filter": [("", "Any plan")] + [(str(p.id), p.display_name) for p in plans],
        "plan_choices": [(p.name, p.display_name) for p in plans if p.active],
        "status_filter": [("", "Any status")] + [(s, s) for s in STATUSES],
        "typed": typed or dict.fromkeys(FIELDS, ""),
        "errors": errors or FormErrors(),
        "alert": alert,
        "notice": _renewal_notice(request) or notice(request, DONE),
    }
    return page(request, signed, "subscriptions.html", context, status=status)


def _renewal_notice(request: Request) -> str:
    if request.query_params.get("done") != "renewed":
        return ""
    counts = [request.query_params.get(k, "0") for k in ("renewed", "cancelled", "expired")]
    if not all(c.isdigit() and len(c) < 10 for c in counts):
        return ""
    return "Renewal run: {} renewed, {} cancelled, {} expired.".format(*counts)


@router.get(BASE)
async def subscriptions(request: Request) -> Response:
    signed = await admin(request)
    return await _list(request, signed)


@router.post(BASE)
async def subscribe(request: Request) -> Response:
    signed = await admin(request)
    typed = values(await posted(request, signed), FIELDS)
    registry = registry_of(request)
    email = typed["user_email"].strip()
    if not email:
        errors = FormErrors(fields={"user_email": "Enter the email of the user to subscribe."})
        return await _list(request, signed, typed=typed, errors=errors, status=422)
    try:
        user_id = (await registry.users.by_email(signed.actor(), email)).id
        raw = {
            "user_id": user_id,
            "plan": typed["plan_name"],
            "external_customer_id": typed["external_customer_id"].strip() or None,
            "external_subscription_id": typed["external_subscription_id"].strip() or None,
        }
        spec = check(SubscriptionCreate, raw)
        await registry.subscriptions.create(signed.actor(), spec)
    except ModelyardError as exc:
        errors = _subscribe_errors(exc)
        return await _list(request, signed, typed=typed, errors=errors, status=status_of(exc))
    return RedirectResponse(f"{BASE}?done=subscribed", status_code=303)


def _subscribe_errors(exc: ModelyardError) -> FormErrors:
    if exc.code == "USER_NOT_FOUND":
        return FormErrors(fields={"user_email": "No user has this email."})
    about = "plan_name" if exc.code.startswith("PLAN_") else "user_email"
    mapping = {"user_id": "user_email", "plan": "plan_name"}
    mapping |= {name: name for name in FIELDS if name.startswith("external_")}
    return form_errors(exc, mapping, about=about)


@router.post(f"{BASE}/renew")
async def renew(request: Request) -> Response:
    signed = await admin(request)
    await posted(request, signed)
    report = await periods.renew(registry_of(request).db, signed.actor())
    counts = {
        "done": "renewed",
        "renewed": len(report.renewed),
        "cancelled": len(report.cancelled),
        "expired": len(report.expired),
    }
    return RedirectResponse(f"{BASE}?{urlencode(counts)}", status_code=303)


@router.post(f"{BASE}/{{sub_id}}/{{change}}")
async def change(request: Request, sub_id: str, change: str) -> Response:
    signed = await admin(request)
    if change not in CHANGES:
        raise not_found()
    wanted = id_or_404(sub_id)
    await posted(request, signed)
    registry = registry_of(request)
    try:
        await registry.subscriptions.update(
            signed.actor(), wanted, SubscriptionUpdate(status=CHANGES[change])
        )
    except NotFound:
        raise not_found() from None
    except ModelyardError as exc:
        return await _list(request, signed, alert=exc.message, status=status_of(exc))
    return RedirectResponse(f"{BASE}?done={CHANGES[change]}", status_code=303)
