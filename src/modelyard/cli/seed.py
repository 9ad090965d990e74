"""``modelyard seed``: load the built-in catalog of well-known providers, models and prices."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.catalog.seed import SeedReport, seed_catalog, seed_preset

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
    """Load the built-in catalog of well-known providers, models and prices.

    Hosted providers are created disabled until they are given a key. Safe to run again:
    only what is missing or repriced is added, and capabilities and limits are filled in
    where an admin has not set them by hand.
    """
    chosen = preset
    report: SeedReport = run(
        lambda r: seed_catalog(r, ACTOR) if chosen is None else seed_preset(r, ACTOR, chosen)
    )
    emit(
        report,
        as_json,
        lambda: table(
            ("providers created", "models created", "prices added", "models updated"),
            [
                (
                    report.providers_created,
                    report.models_created,
                    report.prices_added,
                    report.models_updated,
                )
            ],
            title="catalog seeded",
        ),
    )
