"""``modelyard prices``: effective-dated model prices (a change appends, nothing is rewritten)."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.registry.model_views import PriceView
from modelyard.services import Registry

from ._common import ACTOR, JsonFlag, emit, fields, parse_time, run, table
from ._refs import model_id

app = typer.Typer(help="Model prices over time: history, new prices, the price at a moment.")

Ref = Annotated[str, typer.Argument(help="Model id or provider-name/model-id.", show_default=False)]
Price = Annotated[str, typer.Option(help="Amount per million tokens, e.g. 2.50.")]


def _rows(items: list[PriceView]) -> None:
    table(
        (
            "effective from",
            "input / Mtok",
            "output / Mtok",
            "cached input",
            "cache write",
            "credits / 1k",
            "cur",
        ),
        (
            (
                p.effective_from,
                p.input_per_mtok,
                p.output_per_mtok,
                p.cached_input_per_mtok,
                p.cache_write_per_mtok,
                p.credits_per_1k,
                p.currency,
            )
            for p in items
        ),
    )


@app.command("list")
def list_(model: Ref, as_json: JsonFlag = False) -> None:
    """A model's price history, oldest first."""

    async def work(r: Registry) -> list[PriceView]:
        return await r.prices.history(ACTOR, await model_id(r, model))

    history = run(work)
    emit(history, as_json, lambda: _rows(history))


@app.command("set")
def set_(
    model: Ref,
    input_: Annotated[str, typer.Option("--input", help="Per million input tokens.")],
    output: Annotated[str, typer.Option("--output", help="Per million output tokens.")],
    cached_input: Annotated[
        str | None, typer.Option(help="Per million cached input tokens.")
    ] = None,
    cache_write: Annotated[
        str | None,
        typer.Option(help="Per million input tokens written to the prompt cache (default: input)."),
    ] = None,
    credits_per_1k: Annotated[str | None, typer.Option(help="Credits per 1k tokens.")] = None,
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "USD",
    effective_from: Annotated[
        str | None, typer.Option(help="ISO time with zone (default: now).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Append a new price for a model."""
    spec = {
        "input_per_mtok": input_,
        "output_per_mtok": output,
        "cached_input_per_mtok": cached_input,
        "cache_write_per_mtok": cache_write,
        "credits_per_1k": credits_per_1k,
        "currency": currency,
        "effective_from": effective_from and parse_time(effective_from, "--effective-from"),
    }

    async def work(r: Registry) -> PriceView:
        return await r.prices.set(ACTOR, await model_id(r, model), spec)

    price = run(work)
    emit(price, as_json, lambda: fields(price, title=f"new price of {model}"))


@app.command()
def at(
    model: Ref,
    when: Annotated[str, typer.Option("--at", help="ISO time with zone, e.g. 2026-01-01T00:00Z.")],
    as_json: JsonFlag = False,
) -> None:
    """The price in force for a model at a given moment."""
    moment = parse_time(when, "--at")

    async def work(r: Registry) -> PriceView:
        return await r.prices.at(ACTOR, await model_id(r, model), moment)

    price = run(work)
    emit(price, as_json, lambda: fields(price, title=f"price of {model} at {when}"))
