"""``modelyard seed``: load the built-in catalog of well-known providers, models and prices."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from modelyard.catalog.clients import seed_clients
from modelyard.catalog.seed import seed_catalog, seed_preset
from modelyard.services import Registry

from ._common import ACTOR, JsonFlag, emit, run, table

PresetOpt = Annotated[
    str | None,
    typer.Option(
        "--preset",
        help="Load a preset instead: seed004 (Groq, OpenRouter, Google AI, ChatGPT, disabled "
        "until a key is set).",
    ),
]


def seed(preset: PresetOpt = None, as_json: JsonFlag = False) -> None:
    """Load the built-in catalog of well-known providers, models and prices, and seed
    003's OAuth client (textassistant-desktop).

    Hosted providers are created disabled until they are given a key. Safe to run again:
    only what is missing or repriced is added, and capabilities and limits are filled in
    where an admin has not set them by hand.
    """
    chosen = preset

    async def work(r: Registry) -> dict[str, Any]:
        if chosen is not None:
            return asdict(await seed_preset(r, ACTOR, chosen))
        report = asdict(await seed_catalog(r, ACTOR))
        return report | {"oauth_clients_created": await seed_clients(r.db, ACTOR)}

    report: dict[str, Any] = run(work)
    columns = ["providers created", "models created", "prices added", "models updated"]
    values = [report[c.replace(" ", "_")] for c in columns]
    if "oauth_clients_created" in report:
        columns.append("oauth clients created")
        values.append(", ".join(report["oauth_clients_created"]) or "-")
    emit(report, as_json, lambda: table(columns, [values], title="catalog seeded"))
