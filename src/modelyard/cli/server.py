"""``modelyard init`` and ``modelyard serve``: first start, and the HTTP server."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from fastapi import FastAPI

from modelyard.api.app import create_app
from modelyard.bootstrap import Bootstrap, bootstrap
from modelyard.gateway.metrics_shared import run_dir
from modelyard.settings import Settings
from modelyard.telemetry import logs

from . import drain, workers
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


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every uvicorn server of ``modelyard serve`` is given, one worker or several: the
    address, logs (text or JSON, ``telemetry/logs.py``, applied in each worker too) and the
    drain's backstop (``cli/drain.py``)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": settings.access_log,
        "log_config": logs.config(settings),
        "timeout_graceful_shutdown": drain.backstop_s(settings),
    }


def worker_app() -> FastAPI:
    """The app of one worker of ``modelyard serve --workers N`` (uvicorn imports this factory
    in each spawned process): stopped if the parent dies, the settings the parent handed
    down, and its counters published for the whole server's ``/metrics``."""
    parent = os.getppid()
    workers.follow_parent(parent)
    settings = load_settings()
    return create_app(settings, server=True, shared_metrics=run_dir(settings.home, parent))


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default: MODELYARD_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port to bind (default: MODELYARD_PORT, 4100)."),
    ] = None,
    worker_count: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Worker processes sharing the socket (default: MODELYARD_WORKERS, 1); above "
            "1 needs MODELYARD_REDIS_URL.",
        ),
    ] = None,
) -> None:
    """Bootstrap like `init` (printing the admin key only on first start), then serve HTTP."""
    settings = load_settings()
    given = {"host": host, "port": port, "workers": worker_count}
    overrides = {k: v for k, v in given.items() if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    workers.refuse_split_limits(settings)  # before anything is created or changed
    _print_admin_key(_bootstrap(settings, migrate=settings.auto_migrate))
    if settings.workers == 1:  # drained on SIGTERM (cli/drain.py), as each worker is
        drain.serve(create_app(settings, server=True), settings, **uvicorn_options(settings))
        return
    workers.hand_down(overrides)
    with workers.worker_dir(settings):
        status = workers.supervise(settings.workers, uvicorn_options(settings))
    if status:
        raise typer.Exit(status)
