"""API keys (``apiKeys``, ``createApiKey``, ``revokeApiKey``) and each user's preferences
(``myPreferences``, ``updateMyPreferences``), over the keys and preferences services as
/api/v1/keys and /api/v1/users/me/preferences.

A key's plaintext is in the answer of ``createApiKey`` and nowhere else: the ``ApiKey``
type has only its prefix."""

from __future__ import annotations

from datetime import datetime

import strawberry

from modelyard.api.graphql.context import Info
from modelyard.api.graphql.inputs import raw
from modelyard.api.graphql.scalars import Decimal
from modelyard.errors import check
from modelyard.registry.apikeys import ApiKeyCreate, ApiKeyView, NewApiKey
from modelyard.registry.preferences import PreferencesView
from modelyard.registry.scopes import REGISTRY_READ, REGISTRY_WRITE


@strawberry.type(description="A modelyard API key, without its secret (only its prefix).")
class ApiKey:
    id: strawberry.ID
    user_id: strawberry.ID
    name: str
    prefix: str
    scopes: list[str]
    rpm_limit: int | None = strawberry.field(description="requests per minute")
    tpm_limit: int | None = strawberry.field(description="tokens per minute")
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, view: ApiKeyView) -> ApiKey:
        return cls(
            id=strawberry.ID(str(view.id)),
            user_id=strawberry.ID(str(view.user_id)),
            name=view.name,
            prefix=view.prefix,
            scopes=list(view.scopes),
            rpm_limit=view.rpm_limit,
            tpm_limit=view.tpm_limit,
            expires_at=view.expires_at,
            revoked_at=view.revoked_at,
            last_used_at=view.last_used_at,
            created_at=view.created_at,
        )


@strawberry.type(
    name="NewApiKey",
    description="A new API key: the one answer that carries its plaintext (key); keep it,"
    " it is never shown again.",
)
class NewApiKeyResult:
    key: str
    api_key: ApiKey

    @classmethod
    def of(cls, new: NewApiKey) -> NewApiKeyResult:
        return cls(key=new.key, api_key=ApiKey.of(new.api_key))


@strawberry.input(
    description="A new API key. scopes default to llm.inference and models.read for a"
    " member's key, every scope for an admin's; a member's key grants only scopes it holds."
    " userId (admins) makes a key for someone else."
)
class CreateApiKeyInput:
    name: str
    scopes: list[str] | None = strawberry.UNSET
    expires_at: datetime | None = strawberry.UNSET
    user_id: strawberry.ID | None = strawberry.UNSET
    rpm_limit: int | None = strawberry.UNSET
    tpm_limit: int | None = strawberry.UNSET


@strawberry.type(description="A user's defaults for the gateway.")
class Preferences:
    user_id: strawberry.ID
    default_model_id: strawberry.ID | None
    temperature: Decimal | None
    streaming: bool
    updated_at: datetime | None

    @classmethod
    def of(cls, view: PreferencesView) -> Preferences:
        model = view.default_model_id
        return cls(
            user_id=strawberry.ID(str(view.user_id)),
            default_model_id=None if model is None else strawberry.ID(str(model)),
            temperature=None if view.temperature is None else Decimal(view.temperature),
            streaming=view.streaming,
            updated_at=view.updated_at,
        )


@strawberry.input(
    description="Changes to your preferences: only the fields given (null clears"
    " defaultModelId or temperature)."
)
class UpdatePreferencesInput:
    default_model_id: strawberry.ID | None = strawberry.UNSET
    temperature: Decimal | None = strawberry.UNSET
    streaming: bool | None = strawberry.UNSET


@strawberry.type
class Query:
    @strawberry.field(
        description="Your API keys, oldest first (admins: userId for someone else's)."
        " Scope registry.read."
    )
    async def api_keys(self, info: Info, user_id: strawberry.ID | None = None) -> list[ApiKey]:
        actor = info.context.need(REGISTRY_READ)
        return [ApiKey.of(v) for v in await info.context.registry.keys.list(actor, user_id)]

    @strawberry.field(description="Your preferences. Scope registry.read.")
    async def my_preferences(self, info: Info) -> Preferences:
        actor = info.context.need(REGISTRY_READ)
        return Preferences.of(await info.context.registry.preferences.get(actor))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Create an API key; the answer is the only copy of its plaintext."
        " Scope registry.write."
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> NewApiKeyResult:
        actor = info.context.need(REGISTRY_WRITE)
        spec = check(ApiKeyCreate, raw(input))
        return NewApiKeyResult.of(await info.context.registry.keys.create(actor, spec))

    @strawberry.mutation(
        description="Revoke an API key (yours; admins: anyone's). Scope registry.write."
    )
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKey:
        actor = info.context.need(REGISTRY_WRITE)
        return ApiKey.of(await info.context.registry.keys.revoke(actor, id))

    @strawberry.mutation(
        description="Change your preferences (only the fields given). Scope registry.write."
    )
    async def update_my_preferences(self, info: Info, input: UpdatePreferencesInput) -> Preferences:
        actor = info.context.need(REGISTRY_WRITE)
        return Preferences.of(await info.context.registry.preferences.update(actor, raw(input)))
