"""/api/v1/keys: modelyard API keys. The plaintext key is shown once, at creation."""

from __future__ import annotations

from fastapi import APIRouter

from modelyard.api.deps import Reader, RegistryDep, Writer
from modelyard.registry.apikeys import ApiKeyCreate, ApiKeyView, NewApiKey

router = APIRouter(prefix="/keys", tags=["keys"])


@router.get("", summary="Your API keys (admins: ?user_id= for someone else's)")
async def list_keys(
    registry: RegistryDep, actor: Reader, user_id: str | None = None
) -> list[ApiKeyView]:
    return await registry.keys.list(actor, user_id)


@router.post("", status_code=201, summary="Create an API key; the response is the only copy")
async def create_key(registry: RegistryDep, actor: Writer, body: ApiKeyCreate) -> NewApiKey:
    return await registry.keys.create(actor, body)


@router.delete("/{key_id}", summary="Revoke an API key")
async def revoke_key(registry: RegistryDep, actor: Writer, key_id: str) -> ApiKeyView:
    return await registry.keys.revoke(actor, key_id)
