"""``modelyard billing``: run the renewal job once. The server runs it every minute by itself;
it is idempotent, so running it again (or beside a server) never grants twice."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.billing import periods
from modelyard.errors import ValidationFailed

from ._common import JsonFlag, emit, note, run

app = typer.Typer(help="Billing periods: renewals, rollover, expiry.")


def _summary(done: periods.RenewalView) -> None:
    lines = [
        f"renewed: {len(done.renewed)}",
        f"cancelled at period end: {len(done.cancelled)}",
        f"expired: {len(done.expired)}",
        f"credits written off: {format(done.written_off, 'f')} "
        f"(from {done.grants_expired} expired grants)",
        f"lapsed holds dropped: {done.holds_dropped}",
    ]
    for label, ids in (
        ("renewed", done.renewed),
        ("cancelled", done.cancelled),
        ("expired", done.expired),
    ):
        lines += [f"  {label} {sid}" for sid in ids]
    note("\n".join(lines))


@app.command()
def renew(
    now: Annotated[bool, typer.Option("--now", help="Required: run the renewal job now.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Renew subscriptions whose period ended (with rollover), end cancelled and suspended
    ones, and write off expired grants; once, now."""
    if not now:
        raise ValidationFailed.at(
            "--now", "is required: `modelyard billing renew --now` runs the renewal job once"
        )
    done = periods.RenewalView.of(run(lambda r: periods.run_due(r.db)))
    emit(done, as_json, lambda: _summary(done))
