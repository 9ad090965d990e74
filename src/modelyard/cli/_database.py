"""Which registry the CLI opens, and that only ``init`` and ``serve`` ever create one.

Settings resolve a relative SQLite path against ``MODELYARD_HOME`` (see
:mod:`modelyard.settings`), so the CLI finds the server's database from any directory. A
SQLite driver creates a missing file on connect; every command but ``init`` and ``serve``
checks first, and fails naming where it looked and how to point at the right database,
instead of leaving an empty file behind and starting a second registry.
"""

from __future__ import annotations

from pathlib import Path

from modelyard.errors import Misconfigured
from modelyard.settings import DATABASE_FILE, Settings

POINT_AT_IT = (
    "set MODELYARD_HOME to the server's data directory or MODELYARD_DATABASE_URL to its "
    "database, or run `modelyard init` to create a new registry there"
)


def _source(settings: Settings) -> str:
    if "database_url" in settings.model_fields_set:
        return "MODELYARD_DATABASE_URL"
    if "home" in settings.model_fields_set:
        return "MODELYARD_HOME"
    return "the default MODELYARD_HOME"


def legacy_database(settings: Settings) -> Path | None:
    """A ``modelyard.db`` in the working directory that the settings do not point at: where
    versions before MODELYARD_HOME kept it. Only looked for when neither MODELYARD_HOME nor
    MODELYARD_DATABASE_URL is set."""
    if settings.model_fields_set & {"home", "database_url"}:
        return None
    here = Path.cwd() / DATABASE_FILE
    if here == settings.database_file or not here.is_file() or here.stat().st_size == 0:
        return None
    return here


def _legacy_hint(settings: Settings) -> str:
    legacy = legacy_database(settings)
    if legacy is None:
        return ""
    return (
        f"; {legacy} (where earlier versions kept the database) exists: to keep using it, set "
        f"MODELYARD_HOME={legacy.parent} or move it and its key file to {settings.home}"
    )


def require_database(settings: Settings) -> None:
    """Fail unless the configured SQLite database exists and is not empty (PostgreSQL is
    never created implicitly; its errors are reported when connecting)."""
    path = settings.database_file
    if path is None:
        return
    if not path.is_file():
        problem = f"no database at {path}"
    elif path.stat().st_size == 0:
        problem = f"the database file {path} is empty"
    else:
        return
    raise Misconfigured(
        f"{problem} (looked there following {_source(settings)}); {POINT_AT_IT}"
        + _legacy_hint(settings)
    )


def prepare_database(settings: Settings) -> None:
    """Before ``init`` / ``serve`` create a registry: make the SQLite file's directory, and
    refuse to start a new, empty registry beside an earlier version's database."""
    path = settings.database_file
    if path is None or path.is_file():
        return
    legacy = legacy_database(settings)
    if legacy is not None:
        raise Misconfigured(
            f"not creating a new registry at {path}: {legacy} exists (where earlier versions "
            f"kept the database); set MODELYARD_HOME={legacy.parent} to keep using it, or move "
            f"it and its key file to {settings.home}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
