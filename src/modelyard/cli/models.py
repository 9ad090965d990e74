"""``modelyard models``: the model catalog of each provider, its lifecycle and the default."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer

from modelyard.errors import ValidationFailed, check
from modelyard.registry.common import Page, PageRequest
from modelyard.registry.model_views import CAPABILITIES, ModelView
from modelyard.registry.models import ModelFilter
from modelyard.services import Registry

from ._common import ACTOR, JsonFlag, YesFlag, emit, fields, note, run, table
from ._refs import every, model_id, provider_id
from ._tables import Col, WideFlag

app = typer.Typer(help="Models offered by providers: add, price, deprecate, choose the default.")

Ref = Annotated[str, typer.Argument(help="Model id or provider-name/model-id.", show_default=False)]
DisplayName = Annotated[str | None, typer.Option(help="Human-friendly name.")]
ContextWindow = Annotated[int | None, typer.Option(help="Context window in tokens.")]
MaxOutput = Annotated[int | None, typer.Option(help="Most tokens one answer may have.")]
Capabilities = Annotated[
    list[str] | None,
    typer.Option("--capability", help=f"Repeatable; one of {', '.join(CAPABILITIES)}."),
]


async def provider_names(registry: Registry) -> dict[uuid.UUID, str]:
    return {p.id: p.name async for p in every(lambda page: registry.providers.list(ACTOR, page))}


def _rows(items: list[ModelView], names: dict[uuid.UUID, str], wide: bool = False) -> None:
    table(
        (
            Col("model", fold=True),
            "status",
            Col("default", drop=1),
            Col("context", drop=2, right=True),
            Col("capabilities", fold=True),
            "in/out per Mtok",
            Col("id", drop=3),
        ),
        (
            (
                f"{names.get(m.provider_id, m.provider_id)}/{m.model_id}",
                m.status,
                m.is_default,
                m.context_window,
                m.capabilities,
                f"{m.price.input_per_mtok:f} / {m.price.output_per_mtok:f} {m.price.currency}"
                if m.price
                else None,
                m.id,
            )
            for m in items
        ),
        wide=wide,
    )


def _show(model: ModelView, as_json: bool) -> None:
    def render() -> None:
        fields(model, title=f"model {model.model_id}", exclude=frozenset({"price"}))
        if model.price is not None:
            fields(model.price, title="current price", exclude=frozenset({"id", "model_id"}))

    emit(model, as_json, render)


def _act(
    ref: str, as_json: bool, operation: Callable[[Registry, uuid.UUID], Awaitable[ModelView]]
) -> None:
    async def work(registry: Registry) -> ModelView:
        return await operation(registry, await model_id(registry, ref))

    _show(run(work), as_json)


@app.command("list")
def list_(
    provider: Annotated[str | None, typer.Option(help="Only this provider (id or name).")] = None,
    status: Annotated[str | None, typer.Option(help="Only ACTIVE or DEPRECATED ones.")] = None,
    capability: Annotated[str | None, typer.Option(help="Only models with it.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """List models with their current price."""

    async def work(r: Registry) -> tuple[Page[ModelView], dict[uuid.UUID, str]]:
        pid = await provider_id(r, provider) if provider else None
        filters = check(
            ModelFilter, {"provider_id": pid, "status": status, "capability": capability}
        )
        page = await r.models.list(ACTOR, PageRequest(limit=limit, offset=offset), filters)
        return page, await provider_names(r)

    page, names = run(work)
    emit(page, as_json, lambda: _rows(page.items, names, wide))


@app.command()
def show(model: Ref, as_json: JsonFlag = False) -> None:
    """Show one model with its current price."""
    _act(model, as_json, lambda r, mid: r.models.get(ACTOR, mid))


@app.command()
def add(
    provider: Annotated[str, typer.Option(help="Provider id or system name.")],
    model_id_: Annotated[str, typer.Option("--model-id", help="Upstream model id.")],
    display_name: DisplayName = None,
    context_window: ContextWindow = None,
    max_output_tokens: MaxOutput = None,
    capability: Capabilities = None,
    input_price: Annotated[str | None, typer.Option(help="USD per million input tokens.")] = None,
    output_price: Annotated[str | None, typer.Option(help="USD per million output tokens.")] = None,
    credits_per_1k: Annotated[str | None, typer.Option(help="Credits per 1k tokens.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a model to a provider, optionally with its first price."""
    spec: dict[str, Any] = {
        k: v
        for k, v in {
            "model_id": model_id_,
            "display_name": display_name,
            "context_window": context_window,
            "max_output_tokens": max_output_tokens,
            "capabilities": capability,
        }.items()
        if v is not None
    }
    if input_price is not None or output_price is not None or credits_per_1k is not None:
        if input_price is None or output_price is None:
            raise ValidationFailed.at("price", "give both --input-price and --output-price")
        spec["price"] = {"input_per_mtok": input_price, "output_per_mtok": output_price}
        if credits_per_1k is not None:
            spec["price"]["credits_per_1k"] = credits_per_1k

    async def work(r: Registry) -> ModelView:
        spec["provider_id"] = await provider_id(r, provider)
        return await r.models.create(ACTOR, spec)

    _show(run(work), as_json)


@app.command()
def update(
    model: Ref,
    display_name: DisplayName = None,
    context_window: ContextWindow = None,
    max_output_tokens: MaxOutput = None,
    capability: Capabilities = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a model's name, limits or capabilities (--capability replaces the list)."""
    changes = {
        k: v
        for k, v in {
            "display_name": display_name,
            "context_window": context_window,
            "max_output_tokens": max_output_tokens,
            "capabilities": capability,
        }.items()
        if v is not None
    }
    if not changes:
        raise ValidationFailed("nothing to change; give at least one option (see --help)")
    _act(model, as_json, lambda r, mid: r.models.update(ACTOR, mid, changes))


@app.command()
def deprecate(model: Ref, as_json: JsonFlag = False) -> None:
    """Mark a model DEPRECATED; it stays queryable but cannot be a default."""
    _act(model, as_json, lambda r, mid: r.models.set_status(ACTOR, mid, "DEPRECATED"))


@app.command()
def reactivate(model: Ref, as_json: JsonFlag = False) -> None:
    """Make a deprecated model ACTIVE again."""
    _act(model, as_json, lambda r, mid: r.models.set_status(ACTOR, mid, "ACTIVE"))


@app.command("set-default")
def set_default(model: Ref, as_json: JsonFlag = False) -> None:
    """Make an active model of a system provider the system default."""
    _act(model, as_json, lambda r, mid: r.models.set_default(ACTOR, mid))


@app.command()
def delete(model: Ref, yes: YesFlag = False, as_json: JsonFlag = False) -> None:
    """Delete a model and its price history."""
    if not yes:
        typer.confirm(f"Delete model {model} and its price history?", abort=True)

    async def work(r: Registry) -> str:
        mid = await model_id(r, model)
        await r.models.delete(ACTOR, mid)
        return str(mid)

    deleted = run(work)
    emit({"deleted": deleted}, as_json, lambda: note(f"Deleted model {model}."))
