"""``modelyard usage [totals|events|partitions]``: recorded gateway usage, totalled by day,
user, model and/or provider, or the calls one by one; as a table, JSON or CSV; or the usage
table's monthly partitions (:mod:`modelyard.cli.usage_partitions`).

One command with an optional VIEW argument (not a command group), so that ``modelyard
usage [options]`` keeps printing the totals."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import typer

from modelyard.errors import ValidationFailed
from modelyard.registry.common import Page
from modelyard.services import Registry
from modelyard.usage.export import events_csv, totals_csv
from modelyard.usage.report import (
    EVENTS_LIMIT,
    EVENTS_MAX,
    EventFilter,
    EventPage,
    Group,
    UsageEventView,
    UsageFilter,
    UsageTotal,
    parse_groups,
)

from ._common import ACTOR, JsonFlag, emit, parse_time, run, table
from ._refs import user_id
from ._tables import Col, WideFlag
from .usage_partitions import partitions

CsvFlag = Annotated[bool, typer.Option("--csv", help="Print CSV (with a header row).")]
TOTAL_HEADINGS = (
    Col("calls", right=True),
    Col("errors", drop=2, right=True),
    Col("prompt", drop=1, right=True),
    Col("completion", drop=1, right=True),
    Col("cost", right=True),
    Col("credits", right=True),
)
EVENT_HEADINGS = (
    "when",
    Col("user", drop=1, fold=True),
    Col("provider", drop=3, fold=True),
    Col("model", fold=True),
    Col("operation", drop=4),
    "status",
    Col("prompt", right=True),
    Col("completion", right=True),
    Col("latency ms", drop=2, right=True),
    Col("cost", right=True),
    Col("client request id", drop=5),
)
_DIMENSIONS: dict[Group, Callable[[UsageTotal], object]] = {
    "day": lambda t: t.day,
    "user": lambda t: t.user_email or t.user_id,
    "model": lambda t: t.model,
    "provider": lambda t: t.provider,
}


class View(StrEnum):
    totals = "totals"
    events = "events"
    partitions = "partitions"


def usage(
    view: Annotated[
        View,
        typer.Argument(
            help="totals; events: the calls one by one, newest first; partitions: the usage "
            "table's months on PostgreSQL."
        ),
    ] = View.totals,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="totals: group by day, user, model and/or provider, comma-separated or "
            "repeated (default day,user,model).",
        ),
    ] = None,
    user: Annotated[str | None, typer.Option(help="Only this user (email or id).")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model id.")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider name.")] = None,
    client_request_id: Annotated[
        str | None,
        typer.Option(
            "--client-request-id",
            help="Only calls the caller tagged with this id (x-client-request-id).",
        ),
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601 with zone).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO 8601).")] = None,
    status: Annotated[
        str | None, typer.Option(help="events: only calls with this status (ok, error, aborted).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1, max=EVENTS_MAX, help=f"events: calls to show (default {EVENTS_LIMIT})."
        ),
    ] = None,
    offset: Annotated[int | None, typer.Option(min=0, help="events: calls to skip.")] = None,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    wide: WideFlag = False,
    maintain: Annotated[
        bool,
        typer.Option(
            "--maintain",
            help="partitions: run the maintenance now (months ahead, retention) and list.",
        ),
    ] = False,
) -> None:
    """Totals of calls, tokens, cost and credits by day, user and model (or as --by says);
    `modelyard usage events` lists the calls themselves; `modelyard usage partitions` the
    monthly partitions (PostgreSQL)."""
    if as_json and as_csv:
        raise ValidationFailed.at("--csv", "cannot be combined with --json")
    if maintain and view is not View.partitions:
        raise ValidationFailed.at("--maintain", "applies to `modelyard usage partitions` only")
    if view is View.partitions:
        _only_partitions(by, user, model, provider, client_request_id, since, until, as_csv)
        partitions(maintain, as_json)
        return
    _only_for(view, by=by, status=status, limit=limit, offset=offset)
    window = {
        "model": model,
        "provider": provider,
        "client_request_id": client_request_id,
        "since": parse_time(since, "--since") if since else None,
        "until": parse_time(until, "--until") if until else None,
    }
    if view is View.events:
        calls = EventFilter.model_validate(window | {"status": status})
        page = EventPage(limit=limit or EVENTS_LIMIT, offset=offset or 0)
        _events(run(lambda r: _read_events(r, user, calls, page)), as_json, as_csv, wide)
    else:
        filters = UsageFilter.model_validate(window)
        groups = parse_groups(by or (), "--by")
        _totals(run(lambda r: _read_totals(r, user, filters, groups)), groups, as_json, as_csv)


def _only_partitions(*given: object) -> None:
    if any(value not in (None, False) for value in given):
        raise ValidationFailed.at(
            "partitions", "takes only --maintain and --json (filters apply to totals and events)"
        )


def _only_for(view: View, **given: object) -> None:
    """Refuse options that the other view takes."""
    wanted = {"by"} if view is View.events else {"status", "limit", "offset"}
    for name in sorted(wanted):
        if given[name] is not None:
            other = "totals" if view is View.events else "events"
            raise ValidationFailed.at(
                f"--{name}", f"applies to `modelyard usage {other}`, not to {view.value}"
            )


async def _read_totals(
    r: Registry, user: str | None, filters: UsageFilter, groups: tuple[Group, ...]
) -> list[UsageTotal]:
    uid = await user_id(r, user) if user else None
    return await r.usage.totals(ACTOR, filters.model_copy(update={"user_id": uid}), groups)


async def _read_events(
    r: Registry, user: str | None, filters: EventFilter, page: EventPage
) -> Page[UsageEventView]:
    uid = await user_id(r, user) if user else None
    return await r.usage.events(ACTOR, filters.model_copy(update={"user_id": uid}), page)


def _totals(
    totals: list[UsageTotal], groups: tuple[Group, ...], as_json: bool, as_csv: bool
) -> None:
    if as_csv:
        typer.echo(totals_csv(totals, groups, newline="\n"), nl=False)
        return
    emit(
        totals,
        as_json,
        lambda: table(
            (*(Col(g, fold=g != "day") for g in groups), *TOTAL_HEADINGS),
            [
                (
                    *(_DIMENSIONS[g](t) for g in groups),
                    t.calls,
                    t.errors,
                    t.prompt_tokens,
                    t.completion_tokens,
                    f"{t.cost:f} {t.currency or ''}".strip(),
                    t.credits,
                )
                for t in totals
            ],
            title="usage",
        ),
    )


def _events(page: Page[UsageEventView], as_json: bool, as_csv: bool, wide: bool) -> None:
    if as_csv:
        typer.echo(events_csv(page.items, newline="\n"), nl=False)
        return
    shown = f"{page.offset + 1}-{page.offset + len(page.items)}" if page.items else "none"
    emit(
        page,
        as_json,
        lambda: table(
            EVENT_HEADINGS,
            [
                (
                    e.occurred_at,
                    e.user_email or e.user_id,
                    e.provider,
                    e.model,
                    e.operation,
                    e.status if e.error_code is None else f"{e.status} ({e.error_code})",
                    e.prompt_tokens,
                    e.completion_tokens,
                    e.latency_ms,
                    None if e.cost is None else f"{e.cost:f} {e.currency or ''}".strip(),
                    e.client_request_id,
                )
                for e in page.items
            ],
            title=f"usage events ({shown} of {page.total}, newest first)",
            wide=wide,
        ),
    )
