"""``modelyard audit``: read the hash-chained audit trail and check that it is intact."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from modelyard.errors import ModelyardError
from modelyard.registry.audit_log import AuditFilter
from modelyard.registry.common import PageRequest

from ._common import ACTOR, JsonFlag, emit, note, print_json, run, table
from ._tables import Col, WideFlag

app = typer.Typer(help="The audit trail of every configuration change.")


@app.command("list")
def list_(
    entity_type: Annotated[str | None, typer.Option(help="provider, model, user, ...")] = None,
    entity_id: Annotated[str | None, typer.Option(help="Id (or key) of one entity.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. provider.create.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Newest events first.")] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """List audit events, newest first."""
    filters = AuditFilter(entity_type=entity_type, entity_id=entity_id, action=action)
    page = run(lambda r: r.audit.list(ACTOR, PageRequest(limit=limit, offset=offset), filters))
    emit(
        page,
        as_json,
        lambda: table(
            (
                Col("id", right=True),
                Col("when", drop=1),
                Col("actor", drop=3, fold=True),
                Col("action", fold=True),
                Col("entity", fold=True),
                Col("version", drop=4, right=True),
            ),
            (
                (
                    e.id,
                    e.occurred_at,
                    e.actor_label,
                    e.action,
                    f"{e.entity_type}:{e.entity_id}",
                    e.config_version,
                )
                for e in page.items
            ),
            wide=wide,
        ),
    )


@app.command()
def verify(as_json: JsonFlag = False) -> None:
    """Check the hash chain; exit 1 naming the first broken event."""
    report = run(lambda r: r.audit.verify(ACTOR))
    if as_json:
        print_json({"ok": report.ok} | asdict(report))
        if not report.ok:
            raise typer.Exit(1)
    elif report.ok:
        note(f"Audit trail intact: {report.checked} events checked.")
    else:
        raise ModelyardError(
            f"audit trail broken at event {report.broken_at}: {report.reason} "
            f"({report.checked} events before it are intact)",
            code="AUDIT_CHAIN_BROKEN",
        )
