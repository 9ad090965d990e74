"""``modelyard db``: the schema's revision, upgrades and downgrades, and a SQLite backup.

``serve`` upgrades the schema itself when ``MODELYARD_AUTO_MIGRATE`` is on (the default).
With several replicas it is off and an operator runs ``db upgrade`` once before rolling the
new version out, and ``db downgrade REVISION`` with the new version before rolling back to an
old one (docs/deployment.md, "Upgrade and rollback"). These commands never bootstrap: no key
file, no admin user, and a missing SQLite database is an error, not a new registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelyard.db.backup import backup_sqlite
from modelyard.db.migrate import current_revision, downgrade_to, head_revision, upgrade_to
from modelyard.errors import ValidationFailed

from ._common import JsonFlag, YesFlag, emit, load_settings, note, print_json, run
from ._database import require_database

app = typer.Typer(help="The database schema: revision, upgrade, downgrade; SQLite backup.")

Revision = Annotated[str, typer.Argument(help="A revision id (e.g. 0008), `base` or `head`.")]


@app.command()
def status(as_json: JsonFlag = False) -> None:
    """The database's schema revision and the newest this version knows."""

    current, head = run(lambda r: current_revision(r.db.engine)), head_revision()
    emit(
        {"revision": current, "head": head, "at_head": current == head},
        as_json,
        lambda: note(
            f"Schema at {current or 'no revision (empty)'}; this version's newest is {head}"
            + (" (up to date)." if current == head else ".")
        ),
    )


def _moved(before: str | None, after: str | None, as_json: bool) -> None:
    if as_json:
        print_json({"from": before, "to": after})
    elif before == after:
        note(f"Schema already at {after or 'base'}; nothing to do.")
    else:
        note(f"Schema moved from {before or 'base'} to {after or 'base'}.")


@app.command()
def upgrade(
    revision: Annotated[
        str, typer.Argument(help="A revision id, or `head` (the default).")
    ] = "head",
    as_json: JsonFlag = False,
) -> None:
    """Apply the migrations up to REVISION (all of them by default), in one transaction."""
    before, after = run(lambda r: upgrade_to(r.db.engine, revision))
    _moved(before, after, as_json)


@app.command()
def downgrade(revision: Revision, yes: YesFlag = False, as_json: JsonFlag = False) -> None:
    """Undo the migrations after REVISION, in one transaction: what they added is dropped."""
    if not yes:
        typer.confirm(
            f"Downgrade the schema to {revision}? Tables and columns added after it are "
            "dropped with their data.",
            abort=True,
        )
    before, after = run(lambda r: downgrade_to(r.db.engine, revision))
    _moved(before, after, as_json)


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="The new file (never overwritten).")],
    as_json: JsonFlag = False,
) -> None:
    """Copy the SQLite database to PATH (mode 0600) while servers keep running."""
    settings = load_settings()
    source = settings.database_file
    if source is None:
        raise ValidationFailed.at(
            "MODELYARD_DATABASE_URL",
            "is not a SQLite file; back PostgreSQL up with pg_dump (docs/deployment.md)",
        )
    require_database(settings)
    done = backup_sqlite(source, path)
    if as_json:
        print_json(done)
        return
    note(
        f"Backed up {source} (schema {done.revision}) to {done.path} "
        f"({done.size_bytes} bytes, mode 0600). Back up the master key separately."
    )
