"""/api/v1/oauth/clients and /api/v1/oauth/signing-keys: the applications that sign users
in, and the keys that sign their ID tokens (admins only). A confidential client's secret is
in the response that creates or rotates it, and nowhere else, ever."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from modelyard.api.deps import Reader, RegistryDep, Writer
from modelyard.registry.oauth_clients import (
    NewOAuthClient,
    OAuthClientCreate,
    OAuthClientUpdate,
    OAuthClientView,
)
from modelyard.registry.signing_keys import SigningKeyView

router = APIRouter(prefix="/oauth", tags=["oauth"])

ClientId = Annotated[str, Path(description="the client's client_id, e.g. textassistant-desktop")]


@router.get("/clients", summary="OAuth clients (admins)")
async def list_clients(registry: RegistryDep, actor: Reader) -> list[OAuthClientView]:
    return await registry.oauth_clients.list(actor)


@router.post(
    "/clients",
    status_code=201,
    summary="Register an OAuth client (admins); a confidential client's secret is shown once",
)
async def create_client(
    registry: RegistryDep, actor: Writer, body: OAuthClientCreate
) -> NewOAuthClient:
    return await registry.oauth_clients.create(actor, body)


@router.get("/clients/{client_id}", summary="One OAuth client (admins)")
async def get_client(registry: RegistryDep, actor: Reader, client_id: ClientId) -> OAuthClientView:
    return await registry.oauth_clients.get(actor, client_id)


@router.patch("/clients/{client_id}", summary="Change an OAuth client (only the fields given)")
async def update_client(
    registry: RegistryDep, actor: Writer, client_id: ClientId, body: OAuthClientUpdate
) -> OAuthClientView:
    return await registry.oauth_clients.update(actor, client_id, body)


@router.delete(
    "/clients/{client_id}",
    summary="Delete an OAuth client with its codes, tokens and consents",
)
async def delete_client(
    registry: RegistryDep, actor: Writer, client_id: ClientId
) -> OAuthClientView:
    return await registry.oauth_clients.delete(actor, client_id)


@router.post(
    "/clients/{client_id}/rotate-secret",
    summary="A new secret for a confidential client, shown once; the old one stops working",
)
async def rotate_client_secret(
    registry: RegistryDep, actor: Writer, client_id: ClientId
) -> NewOAuthClient:
    return await registry.oauth_clients.rotate_secret(actor, client_id)


@router.get("/signing-keys", summary="ID-token signing keys, newest first (admins)")
async def list_signing_keys(registry: RegistryDep, actor: Reader) -> list[SigningKeyView]:
    return await registry.signing_keys.list(actor)


@router.post(
    "/signing-keys/rotate",
    summary="A new signing key; the old one stays in the JWKS until its tokens expire",
)
async def rotate_signing_key(registry: RegistryDep, actor: Writer) -> SigningKeyView:
    return await registry.signing_keys.rotate(actor)
