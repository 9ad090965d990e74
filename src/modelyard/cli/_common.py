"""What every command group shares: settings, the event loop and the registry, the operator
actor, output (``--json`` or Rich tables) and the one error handler.

Commands run one coroutine each through :func:`run`, which opens the registry, hands it to
the coroutine and closes it again. Failures are never caught in the commands: they travel up
to :class:`CliGroup.main`, which prints any :class:`~modelyard.errors.ModelyardError`, bad
input or unreachable database as one red line on stderr and exits 1.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import orjson
import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from typer.core import TyperGroup

from modelyard.errors import Misconfigured, ModelyardError, ValidationFailed, validation_failed
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings

from ._database import prepare_database, require_database
from ._tables import Column, render

T = TypeVar("T")

ACTOR = Actor.operator("cli")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts, not a table.")]
YesFlag = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

console = Console(highlight=False, soft_wrap=True)


# -- settings, loop, registry -------------------------------------------------------------


def load_settings() -> Settings:
    """The one typed settings object, from ``MODELYARD_*`` environment variables."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"MODELYARD_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise Misconfigured(f"invalid settings: {problems}") from None


def run(
    work: Callable[[Registry], Awaitable[T]],
    settings: Settings | None = None,
    *,
    create: bool = False,
) -> T:
    """Open the registry, run ``work`` on it in a fresh event loop, close it again. Only
    ``create`` (init, serve) may make a new SQLite database; otherwise a missing one fails,
    saying where the CLI looked."""
    settings = settings or load_settings()
    if create:
        prepare_database(settings)
    else:
        require_database(settings)

    async def _main() -> T:
        registry = Registry.open(settings)
        try:
            return await work(registry)
        finally:
            await registry.close()

    return asyncio.run(_main())


# -- output ------------------------------------------------------------------------------


def plain(data: Any) -> Any:
    """A JSON-ready form of views, pages, dataclasses and containers of them."""
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if is_dataclass(data) and not isinstance(data, type):
        return plain(asdict(data))
    if isinstance(data, Mapping):
        return {str(k): plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [plain(v) for v in data]
    return data


def print_json(data: Any) -> None:
    text = orjson.dumps(plain(data), option=orjson.OPT_INDENT_2, default=str).decode()
    typer.echo(text)


def cell(value: Any) -> str:
    """A value as table text: ``-`` for nothing, yes/no, lists joined, dicts as JSON."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return orjson.dumps(plain(value), default=str).decode() if value else "-"
    return _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, datetime):  # 2030-01-01 10:00:00Z: UTC as in JSON, and it may wrap
        text = value.isoformat(sep=" ", timespec="seconds")
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def table(
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    wide: bool = False,
) -> None:
    """Rows as a table that fits the terminal without cutting a value (see ``_tables``)."""
    render(console, columns, [[cell(v) for v in row] for row in rows], title=title, wide=wide)


def fields(
    data: BaseModel | Mapping[str, Any],
    *,
    title: str | None = None,
    exclude: frozenset[str] = frozenset(),
) -> None:
    """One record as a two-column table of field and value."""
    items = data.model_dump() if isinstance(data, BaseModel) else dict(data)
    table(("field", "value"), ((k, v) for k, v in items.items() if k not in exclude), title=title)


def emit(data: Any, as_json: bool, render: Callable[[], None] | None = None) -> None:
    """``--json``: the data as JSON on stdout; otherwise ``render`` (default: a field table)."""
    if as_json:
        print_json(data)
    elif render is not None:
        render()
    else:
        fields(data)


def note(message: str) -> None:
    console.print(message)


def parse_json(text: str, option: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed.at(option, f"is not valid JSON ({exc})") from None


def parse_time(text: str, option: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed.at(option, f"{text!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise ValidationFailed.at(option, "must carry a timezone (e.g. 2026-01-01T00:00:00Z)")
    return when


# -- the one error handler ---------------------------------------------------------------

HANDLED = (
    ModelyardError,
    ValidationError,
    typer.TyperException,  # bad command-line input (typer's click exceptions)
    typer.Abort,
    SQLAlchemyError,
    OSError,
)


def describe(exc: BaseException) -> str:
    """One line that says what went wrong (and, where it can, how to fix it)."""
    if isinstance(exc, ModelyardError):
        return f"{exc.message} ({exc.code})"
    if isinstance(exc, ValidationError):
        failed = validation_failed(exc)
        return f"{failed.message} ({failed.code})"
    if isinstance(exc, typer.TyperException | typer.Abort):
        return _bad_input(exc)
    return _environment(exc)


def _bad_input(exc: typer.TyperException | typer.Abort) -> str:
    if isinstance(exc, typer.Abort):
        return "aborted"
    ctx = getattr(exc, "ctx", None)  # usage errors know the command they came from
    if ctx is not None:
        return f"{exc.format_message()} (see `{ctx.command_path} --help`)"
    return exc.format_message()


def _environment(exc: BaseException) -> str:
    if isinstance(exc, SQLAlchemyError):
        # Never str(exc): SQLAlchemy appends the statement and its parameters.
        reason = exc.orig if isinstance(exc, DBAPIError) else type(exc).__name__
        return (
            f"database error: {reason}; check MODELYARD_DATABASE_URL and run `modelyard init` "
            "to create or upgrade the schema"
        )
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return f"{type(exc).__name__}: {exc}"


def report(exc: BaseException) -> None:
    message = " ".join(describe(exc).split())
    typer.secho(f"error: {message}", fg="red", err=True)


class CliGroup(TyperGroup):
    """The root command: runs the CLI and turns every expected failure into exit code 1."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )
            code = result if isinstance(result, int) else 0
        except HANDLED as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                # A group called without a command: typer has printed its help. (Matched by
                # name, as typer itself does: the class is private.)
                code = 2
            else:
                report(exc)
                code = 1
        if standalone_mode:
            sys.exit(code)
        return code
