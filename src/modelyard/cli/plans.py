"""``modelyard plans``: what a subscription buys (monthly credits, rollover, limits, models)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelyard.billing.plans import PlanCreate, PlanUpdate, PlanView
from modelyard.errors import ValidationFailed, check

from ._common import ACTOR, JsonFlag, emit, fields, run, table
from ._tables import Col, WideFlag

app = typer.Typer(help="Billing plans: list, show, create, change or retire.")

Ref = Annotated[str, typer.Argument(help="Plan name or id.", show_default=False)]
DisplayName = Annotated[str | None, typer.Option(help="Name shown to users.")]
Credits = Annotated[str | None, typer.Option(help="Credits granted each month, e.g. 10000.")]
Rollover = Annotated[str | None, typer.Option(help="none, capped or full.")]
Cap = Annotated[str | None, typer.Option(help="Most credits carried over (rollover capped).")]
Rpm = Annotated[int | None, typer.Option("--rpm", help="Requests per minute per user.")]
Tpm = Annotated[int | None, typer.Option("--tpm", help="Tokens per minute per user.")]
Parallel = Annotated[int | None, typer.Option(help="Most calls in flight per user.")]
Models = Annotated[
    list[str] | None,
    typer.Option("--model", help="Repeatable: a model the plan allows (default: any)."),
]
Capabilities = Annotated[
    list[str] | None,
    typer.Option("--capability", help="Repeatable: a capability calls may need (default: any)."),
]


COLUMNS = (
    Col("name", fold=True),
    Col("display name", drop=3, fold=True),
    Col("credits / month", right=True),
    "rollover",
    "limits",
    Col("models", drop=2, fold=True),
    Col("active", drop=1),
    Col("id", drop=4),
)


def _rollover(plan: PlanView) -> str:
    if plan.rollover == "capped" and plan.rollover_cap is not None:
        return f"capped at {plan.rollover_cap:f}"
    return plan.rollover


def _limits(plan: PlanView) -> str | None:
    limits = zip(
        (plan.rpm_limit, plan.tpm_limit, plan.max_parallel), ("rpm", "tpm", "parallel"), strict=True
    )
    return "\n".join(f"{value} {unit}" for value, unit in limits if value is not None) or None


def _rows(items: list[PlanView], wide: bool = False) -> None:
    table(
        COLUMNS,
        (
            (
                p.name,
                p.display_name,
                p.monthly_credits,
                _rollover(p),
                _limits(p),
                p.allowed_models if p.allowed_models is not None else "any",
                p.active,
                p.id,
            )
            for p in items
        ),
        wide=wide,
    )


def _show(plan: PlanView, as_json: bool) -> None:
    emit(plan, as_json, lambda: fields(plan, title=f"plan {plan.name}"))


@app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Retired plans too.")] = False,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """List plans, the smallest first."""
    items = run(lambda r: r.plans.list(ACTOR, include_inactive=all_))
    emit(items, as_json, lambda: _rows(items, wide))


@app.command()
def show(plan: Ref, as_json: JsonFlag = False) -> None:
    """Show one plan."""
    _show(run(lambda r: r.plans.get(ACTOR, plan)), as_json)


@app.command()
def create(
    name: Annotated[str, typer.Option(help="Unique name: lowercase letters, digits, _ . -")],
    monthly_credits: Annotated[str, typer.Option(help="Credits granted each month.")],
    display_name: DisplayName = None,
    rollover: Annotated[str, typer.Option(help="none, capped or full.")] = "none",
    rollover_cap: Cap = None,
    rpm: Rpm = None,
    tpm: Tpm = None,
    max_parallel: Parallel = None,
    model: Models = None,
    capability: Capabilities = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Create it retired.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a plan."""
    spec: PlanCreate = check(
        PlanCreate,
        {
            "name": name,
            "display_name": display_name,
            "monthly_credits": monthly_credits,
            "rollover": rollover,
            "rollover_cap": rollover_cap,
            "rpm_limit": rpm,
            "tpm_limit": tpm,
            "max_parallel": max_parallel,
            "allowed_models": model or None,
            "allowed_capabilities": capability or None,
            "active": not inactive,
        },
    )
    _show(run(lambda r: r.plans.create(ACTOR, spec)), as_json)


@app.command()
def update(
    plan: Ref,
    display_name: DisplayName = None,
    monthly_credits: Credits = None,
    rollover: Rollover = None,
    rollover_cap: Cap = None,
    rpm: Rpm = None,
    tpm: Tpm = None,
    max_parallel: Parallel = None,
    model: Models = None,
    any_model: Annotated[bool, typer.Option("--any-model", help="Allow every model.")] = False,
    capability: Capabilities = None,
    any_capability: Annotated[
        bool, typer.Option("--any-capability", help="Allow every capability.")
    ] = False,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Bring back or retire the plan.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a plan; only the options given change. --inactive retires it."""
    given: dict[str, Any] = {
        "display_name": display_name,
        "monthly_credits": monthly_credits,
        "rollover": rollover,
        "rollover_cap": rollover_cap,
        "rpm_limit": rpm,
        "tpm_limit": tpm,
        "max_parallel": max_parallel,
        "allowed_models": model or None,
        "allowed_capabilities": capability or None,
        "active": active,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    for flag, option, key, values in (
        (any_model, "model", "allowed_models", model),
        (any_capability, "capability", "allowed_capabilities", capability),
    ):
        if flag and values:
            raise ValidationFailed.at(f"--any-{option}", f"conflicts with --{option}")
        if flag:
            changes[key] = None
    if not changes:
        raise ValidationFailed("nothing to change; give at least one option (see --help)")
    spec: PlanUpdate = check(PlanUpdate, changes)
    _show(run(lambda r: r.plans.update(ACTOR, plan, spec)), as_json)
