"""``modelyard settings``: system settings stored in the registry (not the MODELYARD_* ones)."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.registry.system_settings import SettingView

from ._common import ACTOR, JsonFlag, cell, emit, fields, parse_json, run, table

app = typer.Typer(help="System settings: defaults, retry policy, custom.<name> values.")

Key = Annotated[str, typer.Argument(help="Setting key, e.g. gateway.retry.", show_default=False)]


def _show(setting: SettingView, as_json: bool) -> None:
    emit(setting, as_json, lambda: fields(setting, title=f"setting {setting.key}"))


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """Every known setting and every custom one, with its value and default."""
    items = run(lambda r: r.settings.list(ACTOR))
    emit(
        items,
        as_json,
        lambda: table(
            ("key", "value", "set", "help"),
            ((s.key, cell(s.value), s.is_set, s.help) for s in items),
        ),
    )


@app.command()
def get(key: Key, as_json: JsonFlag = False) -> None:
    """One setting: its value (or default) and help."""
    _show(run(lambda r: r.settings.get(ACTOR, key)), as_json)


@app.command("set")
def set_(
    key: Key,
    value: Annotated[
        str, typer.Argument(help="The value as JSON, e.g. '\"warn\"' or '{\"max_attempts\": 3}'.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Set a setting to a JSON value (checked against the setting's schema)."""
    parsed = parse_json(value, "value")
    _show(run(lambda r: r.settings.set(ACTOR, key, parsed)), as_json)


@app.command()
def unset(key: Key, as_json: JsonFlag = False) -> None:
    """Remove a stored value so the default applies again."""
    _show(run(lambda r: r.settings.unset(ACTOR, key)), as_json)
