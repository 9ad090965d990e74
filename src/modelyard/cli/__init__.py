"""The ``modelyard`` command: one Typer app, one module per command group.

    modelyard init | serve | doctor | seed | chat | usage | import | export
    modelyard providers  list|show|add|update|enable|disable|set-default|activate|set-key|delete
    modelyard models     list|show|add|update|deprecate|reactivate|set-default|delete
    modelyard prices     list|set|at
    modelyard settings   list|get|set|unset
    modelyard users      list|add|update|delete|restore|purge
    modelyard keys       list|create|revoke
    modelyard audit      list|verify
    modelyard plans      list|show|create|update
    modelyard subscriptions list|show|create|suspend|resume|cancel|update
    modelyard credits    balance|ledger|grant|adjust
    modelyard billing    renew --now
    modelyard master-key status|rotate|retire|generate|reseal
    modelyard oauth      clients list|create|update|delete|rotate-secret
    modelyard oauth      signing-keys list|rotate
    modelyard db         status|upgrade|downgrade|backup

Configuration comes from ``MODELYARD_*`` environment variables (see docs/configuration.md);
every command acts as the operator at the server's shell, with full rights. Every command
takes ``--json``. Failures print one red line on stderr and exit 1 (see ``_common``).
"""

from __future__ import annotations

import typer

from modelyard import __version__

from . import (
    audit,
    billing,
    chat,
    credits,
    db,
    doctor,
    keys,
    master_key,
    models,
    oauth,
    plans,
    prices,
    providers,
    seed,
    server,
    subscriptions,
    system_settings,
    transfer,
    usage,
    users,
)
from ._common import CliGroup

app = typer.Typer(
    cls=CliGroup,
    name="modelyard",
    help="One registry for an organisation's LLM providers, models, keys and prices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # never print locals (they may hold secrets)
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"modelyard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """One registry for an organisation's LLM providers, models, keys and prices."""


app.command()(server.init)
app.command()(server.serve)
app.command()(doctor.doctor)
app.command()(seed.seed)
app.command()(chat.chat)
app.command()(usage.usage)
app.command(name="import")(transfer.import_)
app.command(name="export")(transfer.export)
app.add_typer(providers.app, name="providers", no_args_is_help=True)
app.add_typer(models.app, name="models", no_args_is_help=True)
app.add_typer(prices.app, name="prices", no_args_is_help=True)
app.add_typer(system_settings.app, name="settings", no_args_is_help=True)
app.add_typer(users.app, name="users", no_args_is_help=True)
app.add_typer(keys.app, name="keys", no_args_is_help=True)
app.add_typer(audit.app, name="audit", no_args_is_help=True)
app.add_typer(master_key.app, name="master-key", no_args_is_help=True)
app.add_typer(plans.app, name="plans", no_args_is_help=True)
app.add_typer(subscriptions.app, name="subscriptions", no_args_is_help=True)
app.add_typer(credits.app, name="credits", no_args_is_help=True)
app.add_typer(billing.app, name="billing", no_args_is_help=True)
app.add_typer(oauth.app, name="oauth", no_args_is_help=True)
app.add_typer(db.app, name="db", no_args_is_help=True)


def main() -> None:
    app()


__all__ = ["app", "main"]
