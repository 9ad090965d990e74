"""``modelyard oauth``: the applications that sign users in, and the keys that sign their ID
tokens. A confidential client's secret is printed once, when it is made or rotated."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelyard.errors import ValidationFailed
from modelyard.registry.oauth_client_rules import GRANT_TYPES
from modelyard.registry.oauth_clients import (
    NewOAuthClient,
    OAuthClientCreate,
    OAuthClientUpdate,
    OAuthClientView,
)
from modelyard.registry.scopes import OIDC_SCOPES, SCOPES
from modelyard.registry.signing_keys import SigningKeyView
from modelyard.services import Registry

from ._common import ACTOR, JsonFlag, YesFlag, console, emit, fields, note, run, table
from ._refs import user_id
from ._tables import Col, WideFlag

app = typer.Typer(help="OAuth sign-in: clients and ID-token signing keys.")
clients = typer.Typer(help="OAuth clients: list, create, update, delete, rotate-secret.")
signing_keys = typer.Typer(help="ID-token signing keys: list, rotate.")
app.add_typer(clients, name="clients", no_args_is_help=True)
app.add_typer(signing_keys, name="signing-keys", no_args_is_help=True)

ClientRef = Annotated[str, typer.Argument(help="The client's client_id.", show_default=False)]
RedirectUris = Annotated[
    list[str] | None,
    typer.Option(
        "--redirect-uri",
        help="Repeatable: https://..., http://127.0.0.1/... (any port), or com.example.app:/cb.",
    ),
]
Grants = Annotated[
    list[str] | None,
    typer.Option("--grant", help=f"Repeatable, among {', '.join(GRANT_TYPES)}."),
]
Scopes = Annotated[
    list[str] | None,
    typer.Option("--scope", help=f"Repeatable, among {', '.join(SCOPES + OIDC_SCOPES)}."),
]
ServiceUser = Annotated[
    str | None,
    typer.Option(help="User (id or email) a client_credentials client acts as."),
]


def _show(client: OAuthClientView, as_json: bool) -> None:
    emit(client, as_json, lambda: fields(client, title=f"oauth client {client.client_id}"))


def _show_new(created: NewOAuthClient, as_json: bool) -> None:
    if as_json:
        emit(created, as_json)
        return
    fields(created.client, title=f"oauth client {created.client.client_id}")
    if created.client_secret is not None:
        console.print("The client secret is shown this once; store it now:")
        typer.echo(created.client_secret)


@clients.command("list")
def list_clients(as_json: JsonFlag = False, wide: WideFlag = False) -> None:
    """List OAuth clients."""
    items = run(lambda r: r.oauth_clients.list(ACTOR))
    emit(
        items,
        as_json,
        lambda: table(
            (
                "client_id",
                Col("name", fold=True, drop=3),
                "type",
                Col("grants", fold=True, drop=2),
                Col("scopes", fold=True, drop=4),
                Col("redirect URIs", fold=True, drop=5),
                "enabled",
            ),
            (
                (
                    c.client_id,
                    c.name,
                    c.client_type,
                    c.grant_types,
                    c.scopes,
                    c.redirect_uris,
                    c.enabled,
                )
                for c in items
            ),
            wide=wide,
        ),
    )


@clients.command("create")
def create_client(
    client_id: Annotated[str, typer.Option(help="A slug, e.g. textassistant-desktop.")],
    name: Annotated[str, typer.Option(help="Shown to users on the consent page.")],
    client_type: Annotated[
        str, typer.Option("--type", help="public (no secret, PKCE) or confidential.")
    ],
    scope: Scopes = None,
    redirect_uri: RedirectUris = None,
    grant: Grants = None,
    service_user: ServiceUser = None,
    description: Annotated[str, typer.Option(help="What the client is.")] = "",
    skip_consent: Annotated[
        bool, typer.Option("--skip-consent", help="Trusted first-party app: no consent page.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register an OAuth client; a confidential client's secret is printed once."""

    async def work(r: Registry) -> NewOAuthClient:
        body: dict[str, Any] = {
            "client_id": client_id,
            "name": name,
            "description": description,
            "client_type": client_type,
            "redirect_uris": redirect_uri or [],
            "scopes": scope or [],
            "skip_consent": skip_consent,
        }
        if grant:
            body["grant_types"] = grant
        if service_user:
            body["service_user_id"] = await user_id(r, service_user)
        return await r.oauth_clients.create(ACTOR, OAuthClientCreate.model_validate(body))

    _show_new(run(work), as_json)


@clients.command("update")
def update_client(
    client: ClientRef,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    redirect_uri: RedirectUris = None,
    grant: Grants = None,
    scope: Scopes = None,
    service_user: ServiceUser = None,
    skip_consent: Annotated[
        bool | None, typer.Option("--skip-consent/--ask-consent", help="Consent page or not.")
    ] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="A disabled client cannot sign in.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a client; list options (--redirect-uri, --grant, --scope) replace the list."""
    given: dict[str, Any] = {
        "name": name,
        "description": description,
        "redirect_uris": redirect_uri,
        "grant_types": grant,
        "scopes": scope,
        "skip_consent": skip_consent,
        "enabled": enabled,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes and service_user is None:
        raise ValidationFailed("nothing to change; give at least one option (see --help)")

    async def work(r: Registry) -> OAuthClientView:
        if service_user is not None:
            changes["service_user_id"] = await user_id(r, service_user)
        spec = OAuthClientUpdate.model_validate(changes)
        return await r.oauth_clients.update(ACTOR, client, spec)

    _show(run(work), as_json)


@clients.command("delete")
def delete_client(client: ClientRef, yes: YesFlag = False, as_json: JsonFlag = False) -> None:
    """Delete a client with its codes, tokens and consents: its users are signed out."""
    if not yes:
        typer.confirm(f"Delete OAuth client {client}? Its tokens stop working at once.", abort=True)
    gone = run(lambda r: r.oauth_clients.delete(ACTOR, client))
    emit(gone, as_json, lambda: note(f"Deleted OAuth client {gone.client_id}."))


@clients.command("rotate-secret")
def rotate_secret(client: ClientRef, as_json: JsonFlag = False) -> None:
    """A new secret for a confidential client, printed once; the old one stops working."""
    _show_new(run(lambda r: r.oauth_clients.rotate_secret(ACTOR, client)), as_json)


def _keys_table(items: list[SigningKeyView], wide: bool) -> None:
    table(
        ("kid", "signing", "published", Col("created", drop=1), Col("expires", drop=2)),
        ((k.kid, k.signing, k.published, k.created_at, k.expires_at) for k in items),
        wide=wide,
    )


@signing_keys.command("list")
def list_keys(as_json: JsonFlag = False, wide: WideFlag = False) -> None:
    """List signing keys, newest first: the one that signs, and retired ones still published."""
    items = run(lambda r: r.signing_keys.list(ACTOR))
    emit(items, as_json, lambda: _keys_table(items, wide))


@signing_keys.command("rotate")
def rotate_key(as_json: JsonFlag = False) -> None:
    """Make a new signing key; the old one stays in the JWKS until its tokens expire."""
    new = run(lambda r: r.signing_keys.rotate(ACTOR))
    emit(new, as_json, lambda: note(f"New signing key {new.kid}."))
