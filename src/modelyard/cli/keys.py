"""``modelyard keys``: modelyard's own API keys. The plaintext is shown once, at creation."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.registry.apikeys import ApiKeyCreate, ApiKeyView, NewApiKey
from modelyard.registry.scopes import SCOPES
from modelyard.services import Registry

from ._common import ACTOR, JsonFlag, console, emit, fields, parse_time, run, table
from ._refs import user_id
from ._tables import Col, WideFlag

app = typer.Typer(help="API keys of users: list, create (shown once), revoke.")


def _rows(items: list[ApiKeyView], wide: bool) -> None:
    table(
        (
            Col("name", fold=True),
            Col("prefix", drop=1),
            Col("scopes", fold=True),
            Col("expires", drop=3),
            Col("revoked", drop=2),
            Col("last used", drop=4),
            Col("user", drop=5),
            "id",
        ),
        (
            (
                k.name,
                k.prefix,
                k.scopes,
                k.expires_at,
                k.revoked_at,
                k.last_used_at,
                k.user_id,
                k.id,
            )
            for k in items
        ),
        wide=wide,
    )


@app.command("list")
def list_(
    user: Annotated[str | None, typer.Option(help="Only this user's keys (id or email).")] = None,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """List API keys (every user's unless --user)."""

    async def work(r: Registry) -> list[ApiKeyView]:
        owner = await user_id(r, user) if user else None
        return await r.keys.list(ACTOR, owner)

    items = run(work)
    emit(items, as_json, lambda: _rows(items, wide))


@app.command()
def create(
    user: Annotated[str, typer.Option(help="Owner: user id or email.")],
    name: Annotated[str, typer.Option(help="What the key is for.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help=(
                f"Repeatable, among {', '.join(SCOPES)}; default: llm.inference and "
                "models.read for a member's key, every scope for an admin's."
            ),
        ),
    ] = None,
    expires: Annotated[str | None, typer.Option(help="ISO time with zone.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key for a user and print it once."""
    expires_at = parse_time(expires, "--expires") if expires else None

    async def work(r: Registry) -> NewApiKey:
        spec = ApiKeyCreate.model_validate(
            {"name": name, "user_id": await user_id(r, user), "expires_at": expires_at}
            | ({"scopes": scope} if scope else {})
        )
        return await r.keys.create(ACTOR, spec)

    created = run(work)
    if as_json:
        emit(created, as_json)
        return
    fields(created.api_key, title=f"api key {created.api_key.name}")
    console.print("The key is shown this once; store it now:")
    typer.echo(created.key)


@app.command()
def revoke(
    key: Annotated[str, typer.Argument(help="API key id.", show_default=False)],
    as_json: JsonFlag = False,
) -> None:
    """Revoke an API key; it stops working at once."""
    revoked = run(lambda r: r.keys.revoke(ACTOR, key))
    emit(revoked, as_json, lambda: fields(revoked, title=f"revoked api key {revoked.name}"))
