"""/console/plans (admins): the plans with everything a plan holds (credits per period,
rollover, rate limits, parallel calls, the models and capabilities allowed), a form to add
one and to change one (errors beside their fields, nothing saved), retire and reactivate."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from modelyard.api.web.console.access import admin, not_found, posted, registry_of
from modelyard.api.web.console.billing_forms import (
    listed,
    optional,
    status_of,
    values,
)
from modelyard.api.web.console.form_errors import FormErrors, form_errors
from modelyard.api.web.console.found import id_or_404
from modelyard.api.web.console.notices import notice
from modelyard.api.web.console.render import page
from modelyard.api.web.session import SignedIn
from modelyard.billing.plans import PlanCreate, PlanUpdate, PlanView
from modelyard.errors import ModelyardError, NotFound, check

router = APIRouter(include_in_schema=False)

BASE = "/console/plans"
FIELDS = (
    "name",
    "display_name",
    "monthly_credits",
    "rollover",
    "rollover_cap",
    "rpm_limit",
    "tpm_limit",
    "max_parallel",
    "allowed_models",
    "allowed_capabilities",
)
LIMITS = ("rollover_cap", "rpm_limit", "tpm_limit", "max_parallel")
ROLLOVER = (
    ("none", "None: unused credits expire"),
    ("capped", "Capped: carry over up to the cap"),
    ("full", "Full: carry over everything"),
)
DONE = {
    "created": "The plan was created.",
    "saved": "The plan was saved.",
    "retired": "The plan was retired: no one new can subscribe to it.",
    "activated": "The plan is active again.",
}


def _typed(plan: PlanView) -> dict[str, str]:
    """A plan as its form shows it."""
    shown = {name: "" if getattr(plan, name) is None else str(getattr(plan, name)) for name in (
        "name", "display_name", "monthly_credits", "rollover", "rollover_cap", "rpm_limit",
        "tpm_limit", "max_parallel",
    )}  # fmt: skip
    for name in ("allowed_models", "allowed_capabilities"):
        shown[name] = "\n".join(getattr(plan, name) or [])
    return shown


def _spec(typed: dict[str, str], *, creating: bool) -> dict[str, Any]:
    """The service's input from the form: blanks are "no limit", lists one per line."""
    raw: dict[str, Any] = {
        "monthly_credits": typed["monthly_credits"].strip(),
        "rollover": typed["rollover"] or "none",
        **optional(typed, LIMITS),
        "allowed_models": listed(typed["allowed_models"]),
        "allowed_capabilities": listed(typed["allowed_capabilities"]),
    }
    if typed["display_name"].strip():
        raw["display_name"] = typed["display_name"]
    if creating:
        raw["name"] = typed["name"]
    return raw


def _errors(exc: ModelyardError) -> FormErrors:
    errors = form_errors(exc, {name: name for name in FIELDS}, about="name")
    for message in list(errors.general):  # the rollover rule spans two fields: the cap's
        if "rollover_cap" in message:
            errors.general.remove(message)
            errors.add("rollover_cap", message.removeprefix("(body): ").removeprefix("Value "))
    return errors


def _form(
    request: Request,
    signed: SignedIn,
    typed: dict[str, str],
    *,
    plan: PlanView | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    title = f"Plan {plan.display_name}" if plan else "New plan"
    context = {
        "title": title,
        "plan": plan,
        "typed": typed,
        "errors": errors or FormErrors(),
        "rollover_options": ROLLOVER,
        "action": f"{BASE}/{plan.id}" if plan else f"{BASE}/new",
        "notice": notice(request, DONE),
    }
    return page(request, signed, "plan_form.html", context, status=status)


async def _plan(request: Request, signed: SignedIn, plan_id: str) -> PlanView:
    try:
        return await registry_of(request).plans.get(signed.actor(), id_or_404(plan_id))
    except NotFound:
        raise not_found() from None


@router.get(BASE)
async def plans(request: Request) -> Response:
    signed = await admin(request)
    found = await registry_of(request).plans.list(signed.actor(), include_inactive=True)
    context = {"title": "Plans", "plans": found, "notice": notice(request, DONE)}
    return page(request, signed, "plans.html", context)


@router.get(f"{BASE}/new")
async def new_plan(request: Request) -> Response:
    signed = await admin(request)
    return _form(request, signed, dict.fromkeys(FIELDS, "") | {"monthly_credits": "0"})


@router.post(f"{BASE}/new")
async def create_plan(request: Request) -> Response:
    signed = await admin(request)
    typed = values(await posted(request, signed), FIELDS)
    try:
        spec = check(PlanCreate, _spec(typed, creating=True))
        made = await registry_of(request).plans.create(signed.actor(), spec)
    except ModelyardError as exc:
        return _form(request, signed, typed, errors=_errors(exc), status=status_of(exc))
    return RedirectResponse(f"{BASE}/{made.id}?done=created", status_code=303)


@router.get(f"{BASE}/{{plan_id}}")
async def edit_plan(request: Request, plan_id: str) -> Response:
    signed = await admin(request)
    plan = await _plan(request, signed, plan_id)
    return _form(request, signed, _typed(plan), plan=plan)


@router.post(f"{BASE}/{{plan_id}}")
async def update_plan(request: Request, plan_id: str) -> Response:
    signed = await admin(request)
    plan = await _plan(request, signed, plan_id)
    typed = values(await posted(request, signed), FIELDS) | {"name": plan.name}
    try:
        spec = check(PlanUpdate, _spec(typed, creating=False))
        await registry_of(request).plans.update(signed.actor(), plan.id, spec)
    except ModelyardError as exc:
        return _form(request, signed, typed, plan=plan, errors=_errors(exc), status=status_of(exc))
    return RedirectResponse(f"{BASE}/{plan.id}?done=saved", status_code=303)


@router.post(f"{BASE}/{{plan_id}}/retire")
async def retire_plan(request: Request, plan_id: str) -> Response:
    return await _set_active(request, plan_id, active=False)


@router.post(f"{BASE}/{{plan_id}}/activate")
async def activate_plan(request: Request, plan_id: str) -> Response:
    return await _set_active(request, plan_id, active=True)


async def _set_active(request: Request, plan_id: str, *, active: bool) -> Response:
    signed = await admin(request)
    plan = await _plan(request, signed, plan_id)
    await posted(request, signed)
    await registry_of(request).plans.update(signed.actor(), plan.id, PlanUpdate(active=active))
    return RedirectResponse(f"{BASE}?done={'activated' if active else 'retired'}", status_code=303)
