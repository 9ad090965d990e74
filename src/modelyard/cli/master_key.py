"""``modelyard master-key``: the keys that seal provider API keys at rest, and their rotation.

Rotation adds a new primary key to the key file and re-seals every secret under it in one
transaction; older keys stay readable until ``retire`` drops them (refused while anything is
still sealed with them). With MODELYARD_MASTER_KEY the keys live in the environment: put a
``generate``-d key first there and run ``reseal``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from modelyard.registry import master_keys
from modelyard.registry.master_keys import Progress as ProgressCallback
from modelyard.registry.secrets import Keyring, generate_key
from modelyard.services import Registry
from modelyard.settings import Settings

from ._common import ACTOR, JsonFlag, emit, load_settings, note, run, table

app = typer.Typer(help="Master keys: status, rotation, retiring old keys.")


@dataclass(frozen=True)
class Rotation:
    primary: str
    resealed: int
    retired: list[str]


@contextmanager
def resealing(show: bool) -> Iterator[ProgressCallback | None]:
    """A progress bar on stderr over the secrets being re-sealed, drawn from the first one
    on (so a refused rotation draws none); nothing with --json."""
    if not show:
        yield None
        return
    bar = Progress(
        TextColumn("re-sealing secrets"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
    )
    task = bar.add_task("reseal", total=None)

    def advance(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield advance
    finally:
        bar.stop()


def _settings_with_key() -> Settings:
    settings = load_settings()
    Keyring.from_settings(settings)  # fails with how to fix it when no key is configured
    return settings


@app.command()
def status(as_json: JsonFlag = False) -> None:
    """Configured keys (primary first) and how many secrets each one seals."""
    settings = _settings_with_key()
    found = run(lambda r: master_keys.status(r.db), settings)

    def render() -> None:
        ids = found.readable + sorted(set(found.sealed_by) - set(found.readable))
        table(
            ("key id", "role", "sealed secrets"),
            (
                (
                    kid,
                    "primary"
                    if kid == found.primary
                    else ("older" if kid in found.readable else "NOT CONFIGURED"),
                    found.sealed_by.get(kid, 0),
                )
                for kid in ids
            ),
        )

    emit(found, as_json, render)


@app.command()
def rotate(
    retire: Annotated[
        bool, typer.Option("--retire", help="Retire the old keys after re-sealing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a new primary key to the key file and re-seal every secret under it."""
    settings = _settings_with_key()

    async def work(r: Registry) -> Rotation:
        with resealing(not as_json) as progress:
            primary, count = await master_keys.rotate(r.db, settings, ACTOR, progress)
        retired = await master_keys.retire(r.db, settings, ACTOR) if retire else []
        return Rotation(primary, count, retired)

    done = run(work, settings)
    after = (
        f"Retired {', '.join(done.retired) or 'nothing'}."
        if retire
        else "Old keys stay readable until `modelyard master-key retire`."
    )
    summary = f"New primary key {done.primary}; {done.resealed} secret(s) re-sealed."
    emit(done, as_json, lambda: note(f"{summary} {after}"))


@app.command("retire")
def retire_(as_json: JsonFlag = False) -> None:
    """Drop every key but the primary from the key file (refused while one still seals)."""
    settings = _settings_with_key()
    retired = run(lambda r: master_keys.retire(r.db, settings, ACTOR), settings)
    emit(
        {"retired": retired},
        as_json,
        lambda: note(f"Retired {', '.join(retired)}." if retired else "No older keys to retire."),
    )


@app.command()
def reseal(as_json: JsonFlag = False) -> None:
    """Re-seal every secret under the primary key (after changing MODELYARD_MASTER_KEY)."""
    settings = _settings_with_key()

    async def work(r: Registry) -> int:
        with resealing(not as_json) as progress:
            return await master_keys.reseal(r.db, ACTOR, progress)

    count = run(work, settings)
    emit({"resealed": count}, as_json, lambda: note(f"{count} secret(s) re-sealed."))


@app.command()
def generate(as_json: JsonFlag = False) -> None:
    """Print a new random master key (for MODELYARD_MASTER_KEY); nothing is stored."""
    key = generate_key()
    if as_json:
        emit({"key": key}, as_json)
    else:
        typer.echo(key)
