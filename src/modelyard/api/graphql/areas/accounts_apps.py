"""OAuth clients (the apps that sign users in) and the keys that sign their ID tokens,
over the oauth_clients and signing_keys services as /api/v1/oauth (admins only).

A confidential client's secret is in the answer of ``createOAuthClient`` and
``rotateOAuthClientSecret`` and nowhere else; a signing key shows only its public half."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from modelyard.api.graphql.context import Info
from modelyard.api.graphql.inputs import raw
from modelyard.api.graphql.scalars import JSON
from modelyard.errors import check
from modelyard.registry.oauth_clients import (
    NewOAuthClient,
    OAuthClientCreate,
    OAuthClientUpdate,
    OAuthClientView,
)
from modelyard.registry.scopes import REGISTRY_READ, REGISTRY_WRITE
from modelyard.registry.signing_keys import SigningKeyView


@strawberry.enum(
    description="public: an app that cannot keep a secret (PKCE, no secret); confidential:"
    " a server, given a secret once."
)
class OAuthClientType(enum.Enum):
    PUBLIC = "public"
    CONFIDENTIAL = "confidential"


@strawberry.enum(description="An OAuth grant a client may use.")
class OAuthGrantType(enum.Enum):
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant's name, not a secret
    CLIENT_CREDENTIALS = "client_credentials"
    DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


@strawberry.type(description="An application that signs users in.")
class OAuthClient:
    id: strawberry.ID
    client_id: str
    name: str
    description: str
    client_type: OAuthClientType
    secret_prefix: str | None = strawberry.field(description="the start of its secret")
    redirect_uris: list[str]
    grant_types: list[OAuthGrantType]
    scopes: list[str]
    service_user_id: strawberry.ID | None
    skip_consent: bool
    enabled: bool
    config_version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: OAuthClientView) -> OAuthClient:
        service = view.service_user_id
        return cls(
            id=strawberry.ID(str(view.id)),
            client_id=view.client_id,
            name=view.name,
            description=view.description,
            client_type=OAuthClientType(view.client_type),
            secret_prefix=view.secret_prefix,
            redirect_uris=list(view.redirect_uris),
            grant_types=[OAuthGrantType(g) for g in view.grant_types],
            scopes=list(view.scopes),
            service_user_id=None if service is None else strawberry.ID(str(service)),
            skip_consent=view.skip_consent,
            enabled=view.enabled,
            config_version=view.config_version,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


@strawberry.type(
    name="NewOAuthClient",
    description="A client with its secret: the one answer that carries it (null for a public"
    " client); keep it, it is never shown again.",
)
class NewOAuthClientResult:
    client_secret: str | None
    client: OAuthClient

    @classmethod
    def of(cls, new: NewOAuthClient) -> NewOAuthClientResult:
        return cls(client_secret=new.client_secret, client=OAuthClient.of(new.client))


@strawberry.input(description="A new OAuth client.")
class CreateOAuthClientInput:
    client_id: str = strawberry.field(description="a slug such as 'textassistant-desktop'")
    name: str
    client_type: OAuthClientType
    scopes: list[str] = strawberry.field(description="scopes it may ask for, OIDC's included")
    description: str | None = strawberry.UNSET
    redirect_uris: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="exact URIs: https, http://127.0.0.1 or http://[::1] (any port), or a"
        " private-use scheme such as com.example.app:/callback",
    )
    grant_types: list[OAuthGrantType] | None = strawberry.UNSET
    service_user_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="the user a client_credentials client acts as"
    )
    skip_consent: bool | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET


@strawberry.input(description="Changes to an OAuth client: only the fields given.")
class UpdateOAuthClientInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    redirect_uris: list[str] | None = strawberry.UNSET
    grant_types: list[OAuthGrantType] | None = strawberry.UNSET
    scopes: list[str] | None = strawberry.UNSET
    service_user_id: strawberry.ID | None = strawberry.UNSET
    skip_consent: bool | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET


@strawberry.type(description="A key that signs ID tokens (its public half only).")
class SigningKey:
    kid: str
    alg: str
    created_at: datetime
    retired_at: datetime | None
    expires_at: datetime | None
    signing: bool = strawberry.field(description="the key that signs new tokens")
    published: bool = strawberry.field(description="in the JWKS")
    public_jwk: JSON

    @classmethod
    def of(cls, view: SigningKeyView) -> SigningKey:
        return cls(
            kid=view.kid,
            alg=view.alg,
            created_at=view.created_at,
            retired_at=view.retired_at,
            expires_at=view.expires_at,
            signing=view.signing,
            published=view.published,
            public_jwk=JSON(view.public_jwk),
        )


@strawberry.type
class Query:
    @strawberry.field(description="OAuth clients by clientId (admins). Scope registry.read.")
    async def oauth_clients(self, info: Info) -> list[OAuthClient]:
        actor = info.context.need(REGISTRY_READ)
        clients = await info.context.registry.oauth_clients.list(actor)
        return [OAuthClient.of(v) for v in clients]

    @strawberry.field(description="One OAuth client (admins). Scope registry.read.")
    async def oauth_client(self, info: Info, client_id: str) -> OAuthClient:
        actor = info.context.need(REGISTRY_READ)
        return OAuthClient.of(await info.context.registry.oauth_clients.get(actor, client_id))

    @strawberry.field(
        description="ID-token signing keys, newest first (admins). Scope registry.read."
    )
    async def signing_keys(self, info: Info) -> list[SigningKey]:
        actor = info.context.need(REGISTRY_READ)
        return [SigningKey.of(v) for v in await info.context.registry.signing_keys.list(actor)]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        name="createOAuthClient",
        description="Register an OAuth client (admins); a confidential client's secret is in"
        " this answer only. Scope registry.write.",
    )
    async def create_oauth_client(
        self, info: Info, input: CreateOAuthClientInput
    ) -> NewOAuthClientResult:
        actor = info.context.need(REGISTRY_WRITE)
        spec = check(OAuthClientCreate, raw(input))
        return NewOAuthClientResult.of(
            await info.context.registry.oauth_clients.create(actor, spec)
        )

    @strawberry.mutation(
        name="updateOAuthClient",
        description="Change an OAuth client (admins). Scope registry.write.",
    )
    async def update_oauth_client(
        self, info: Info, client_id: str, input: UpdateOAuthClientInput
    ) -> OAuthClient:
        actor = info.context.need(REGISTRY_WRITE)
        spec = check(OAuthClientUpdate, raw(input))
        updated = await info.context.registry.oauth_clients.update(actor, client_id, spec)
        return OAuthClient.of(updated)

    @strawberry.mutation(
        name="deleteOAuthClient",
        description="Delete an OAuth client with its codes, tokens and consents (admins);"
        " answers its id. Scope registry.write.",
    )
    async def delete_oauth_client(self, info: Info, client_id: str) -> strawberry.ID:
        actor = info.context.need(REGISTRY_WRITE)
        deleted = await info.context.registry.oauth_clients.delete(actor, client_id)
        return strawberry.ID(str(deleted.id))

    @strawberry.mutation(
        name="rotateOAuthClientSecret",
        description="A new secret for a confidential client (admins), in this answer only;"
        " the old one stops working. Scope registry.write.",
    )
    async def rotate_oauth_client_secret(self, info: Info, client_id: str) -> NewOAuthClientResult:
        actor = info.context.need(REGISTRY_WRITE)
        rotated = await info.context.registry.oauth_clients.rotate_secret(actor, client_id)
        return NewOAuthClientResult.of(rotated)

    @strawberry.mutation(
        description="A new signing key (admins); the old one stays in the JWKS until its"
        " tokens expire. Scope registry.write."
    )
    async def rotate_signing_key(self, info: Info) -> SigningKey:
        actor = info.context.need(REGISTRY_WRITE)
        return SigningKey.of(await info.context.registry.signing_keys.rotate(actor))
