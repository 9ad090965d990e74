"""``modelyard usage``: recorded gateway usage, totalled by day, user and model."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.registry.usage_report import UsageFilter, UsageTotal

from ._common import ACTOR, JsonFlag, emit, parse_time, run, table


def usage(
    model: Annotated[str | None, typer.Option(help="Only this model id.")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider name.")] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601 with zone).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO 8601).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Totals of calls, tokens and cost by day, user and model."""
    filters = UsageFilter(
        model=model,
        provider=provider,
        since=parse_time(since, "--since") if since else None,
        until=parse_time(until, "--until") if until else None,
    )
    totals: list[UsageTotal] = run(lambda r: r.usage.totals(ACTOR, filters))
    emit(
        totals,
        as_json,
        lambda: table(
            ("day", "user", "model", "calls", "errors", "prompt", "completion", "cost"),
            [
                (
                    t.day,
                    t.user_email or t.user_id,
                    t.model,
                    t.calls,
                    t.errors,
                    t.prompt_tokens,
                    t.completion_tokens,
                    f"{t.cost} {t.currency or ''}".strip(),
                )
                for t in totals
            ],
            title="usage",
        ),
    )
