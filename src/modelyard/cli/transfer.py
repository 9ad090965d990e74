"""``modelyard import`` and ``modelyard export``: the registry in and out of a file.

``import`` reads seed 004's ``config/admin_settings.json``, LiteLLM's ``config.yaml`` or a
modelyard export; ``--dry-run`` prints what would change and changes nothing; a real import
first writes a backup (an export of the registry as it was, keys sealed by the master key)
and says where. The work is :mod:`modelyard.transfer.service`'s, shared with the REST API.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from modelyard.errors import ValidationFailed
from modelyard.transfer.document import dumps
from modelyard.transfer.report import ImportReport
from modelyard.transfer.service import FORMATS, Format, export_registry, import_registry

from ._common import ACTOR, JsonFlag, emit, note, run, table

FileArg = Annotated[Path, typer.Argument(help="The file to read, or to write (- for stdout).")]
FormatOpt = Annotated[
    str | None,
    typer.Option("--format", help="seed004 | litellm | modelyard; told from the file if left out."),
]
SecretsFlag = Annotated[
    bool,
    typer.Option(
        "--with-secrets", help="Export provider keys sealed, or import the sealed keys of one."
    ),
]
PassphraseEnv = Annotated[
    str | None,
    typer.Option(
        "--passphrase-env",
        help="Seal/open keys with the passphrase in this environment variable "
        "(default: this installation's master key).",
    ),
]


def import_(
    file: FileArg,
    fmt: FormatOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; change nothing.")
    ] = False,
    with_secrets: SecretsFlag = False,
    passphrase_env: PassphraseEnv = None,
    backup: Annotated[
        Path | None,
        typer.Option("--backup", help="Where the backup goes (default: beside FILE, timestamped)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Import providers, models, prices, settings and plans from FILE.

    Reads seed 004's config/admin_settings.json, LiteLLM's config.yaml (os.environ/NAME keys
    from this environment) or a modelyard export. Nothing is deleted; every entry modelyard
    cannot honour is listed as unsupported.
    """
    chosen = _format(fmt)
    text = file.read_bytes()
    passphrase = _passphrase(passphrase_env)

    def write_backup(content: bytes) -> str:
        target = backup or _unused(file.resolve().parent / _stamped("modelyard-backup"))
        _write_private(target, content)
        return str(target)

    report: ImportReport = run(
        lambda r: import_registry(
            r,
            ACTOR,
            text,
            source=str(file),
            fmt=chosen,
            dry_run=dry_run,
            with_secrets=with_secrets,
            passphrase=passphrase,
            environ=os.environ,
            backup=write_backup,
        )
    )
    emit(report.as_json(), as_json, lambda: _render(report))


def export(
    file: FileArg,
    with_secrets: SecretsFlag = False,
    passphrase_env: PassphraseEnv = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the whole registry (system providers, models, prices with their history,
    settings, plans) to FILE as JSON (YAML when FILE ends in .yaml or .yml).

    Provider keys are left out unless --with-secrets; then they are sealed, never plaintext.
    """
    passphrase = _passphrase(passphrase_env)
    document: dict[str, Any] = run(
        lambda r: export_registry(r, ACTOR, with_secrets=with_secrets, passphrase=passphrase)
    )
    if file.suffix in {".yaml", ".yml"}:
        content = yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()
    else:
        content = dumps(document)
    if str(file) == "-":
        typer.echo(content.decode(), nl=False)
        return
    _write_private(file, content)
    summary = {
        "file": str(file),
        "providers": len(document["providers"]),
        "models": sum(len(p["models"]) for p in document["providers"]),
        "settings": len(document["settings"]),
        "plans": len(document["plans"]),
        "secrets": "sealed" if with_secrets else "left out",
    }
    emit(summary, as_json)


def _format(fmt: str | None) -> Format | None:
    if fmt is None:
        return None
    for known in FORMATS:
        if fmt == known:
            return known
    raise ValidationFailed.at("--format", f"{fmt!r} is not one of {', '.join(FORMATS)}")


def _passphrase(variable: str | None) -> str | None:
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise ValidationFailed.at("--passphrase-env", f"environment variable {variable} is not set")
    return value


def _stamped(stem: str) -> str:
    return f"{stem}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"


def _unused(path: Path) -> Path:
    """``path``, or ``NAME-2.json``, ``-3`` ... when it exists: a backup never replaces an
    earlier one (two imports within a second)."""
    found, serial = path, 2
    while found.exists():
        found, serial = path.with_name(f"{path.stem}-{serial}{path.suffix}"), serial + 1
    return found


def _write_private(path: Path, content: bytes) -> None:
    """Write ``content`` readable by the owner only, whole or not at all: through a new file
    of a name no one chose (created 0600, never an existing file or a symlink's target)."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _render(report: ImportReport) -> None:
    rows = [(c.action, c.entity, c.name, c.detail) for c in report.changes]
    verb = "would change (dry run, nothing changed)" if report.dry_run else "imported"
    table(("action", "what", "name", "detail"), rows, title=f"{report.source}: {report.format}")
    counts = ", ".join(f"{n} {a}" for a, n in report.counts().items())
    note(f"{verb}: {counts}")
    if report.backup:
        note(f"backup of the registry before the import: {report.backup}")
    elif not report.dry_run:
        note("nothing changed: no backup written")
