"""``modelyard seed``: load the built-in catalog of well-known providers, models and prices."""

from __future__ import annotations

from modelyard.catalog.seed import SeedReport, seed_catalog

from ._common import ACTOR, JsonFlag, emit, run, table


def seed(as_json: JsonFlag = False) -> None:
    """Load the built-in catalog of well-known providers, models and prices.

    Hosted providers are created disabled until they are given a key. Safe to run again:
    only what is missing or repriced is added, and capabilities and limits are filled in
    where an admin has not set them by hand.
    """
    report: SeedReport = run(lambda r: seed_catalog(r, ACTOR))
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
