"""``modelyard init`` and ``modelyard serve``: first start, and the HTTP server."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from modelyard.api.app import create_app
from modelyard.bootstrap import Bootstrap, bootstrap
from modelyard.settings import Settings
from modelyard.telemetry import logs

from . import drain
from ._common import JsonFlag, console, load_settings, note, print_json, run


def _bootstrap(settings: Settings, *, migrate: bool = True) -> Bootstrap:
    return run(
        lambda registry: bootstrap(settings, registry, migrate=migrate), settings, create=True
    )


def _key_source(settings: Settings) -> str:
    if settings.master_key is not None:
        return "MODELYARD_MASTER_KEY"
    return f"key file {settings.master_key_file}"


def _print_admin_key(result: Bootstrap) -> None:
    if result.admin_key is None:
        return
    console.print(
        f"Created admin user [bold]{result.admin_email}[/bold]. Its API key is shown this "
        "once; store it now:"
    )
    typer.echo(result.admin_key)
    sys.stdout.flush()


def init(as_json: JsonFlag = False) -> None:
    """Create the master key file (0600), migrate the database and create the admin user."""
    settings = load_settings()
    result = _bootstrap(settings)
    if as_json:
        print_json(
            {
                "created_key_file": result.created_key_file,
                "master_key_source": _key_source(settings),
                "admin_email": result.admin_email,
                "admin_key": result.admin_key,
            }
        )
        return
    if result.created_key_file:
        note(f"Created master key file {settings.master_key_file} (mode 0600). Back it up.")
    note("Database schema is at the newest revision.")
    if result.admin_key is None:
        note(
            f"Everything already exists (master key from {_key_source(settings)}, schema, "
            "admin user); no new key was issued."
        )
    _print_admin_key(result)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default: MODELYARD_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port to bind (default: MODELYARD_PORT, 4100)."),
    ] = None,
) -> None:
    """Bootstrap like `init` (printing the admin key only on first start), then serve HTTP."""
    settings = load_settings()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    _print_admin_key(_bootstrap(settings, migrate=settings.auto_migrate))
    drain.serve(  # uvicorn.run, drained on SIGTERM (cli/drain.py)
        create_app(settings, server=True),
        settings,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        log_config=logs.config(settings),  # modelyard's lines, text or JSON (each worker's)
    )
