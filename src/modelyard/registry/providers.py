"""Provider instances: system-level (owner NULL, admins manage, everyone may use) and each
user's own bring-your-own-key providers.

Rules held here, inside one transaction each: names unique per owner; at most one default
per owner (setting one unsets the previous); at most one active system provider, the
fallback (activating a disabled one fails with PROVIDER_DISABLED; the active one cannot be
disabled or deleted until another is activated); a provider whose kind needs an API key
may be created without one only disabled, and is not enabled until it has one; a member sees
system providers and their own, and gets 404 for anyone else's.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, SecretStr
from sqlalchemy import func, select

from modelyard.db.tables import Provider
from modelyard.errors import Conflict, Forbidden, ValidationFailed, check
from modelyard.kinds.base import (
    base_url_for,
    check_api_key,
    check_headers,
    kind_of,
    kind_of_provider,
    typed_config,
)
from modelyard.registry.actors import Actor
from modelyard.registry.common import Page, PageRequest, Spec
from modelyard.registry.fields import PositiveInt32
from modelyard.registry.lookup import (
    ProviderFilter,
    provider_manageable,
    provider_visible,
    visible_query,
)
from modelyard.registry.provider_changes import (
    apply_change,
    default_allowed,
    key_not_required,
    make_default,
    name_free,
    seal_key,
    unset_default,
)
from modelyard.registry.provider_reach import check_member_reach
from modelyard.registry.provider_views import ProviderView, snapshot, view
from modelyard.registry.tx import Database

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
Owner = Literal["system", "me"]


class ProviderFields(Spec):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    base_url: str | None = Field(default=None, max_length=500)
    organization: str | None = Field(default=None, max_length=200)
    custom_headers: dict[str, str] | None = None
    config: dict[str, Any] | None = None
    timeout_ms: int | None = Field(default=None, ge=100, le=600_000)
    max_parallel: int | None = Field(default=None, ge=1, le=100_000)
    rpm_limit: PositiveInt32 | None = None
    tpm_limit: PositiveInt32 | None = None
    weight: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="share of traffic among providers serving the same model (default 1)",
    )


class ProviderCreate(ProviderFields):
    name: str = Field(pattern=NAME_PATTERN)
    kind: str = Field(max_length=32)
    api_key: SecretStr | None = None
    enabled: bool = True
    is_default: bool = False
    owner: Owner | None = None


class ProviderUpdate(ProviderFields):
    name: str | None = Field(default=None, pattern=NAME_PATTERN)

    # Only the organization can be cleared; leaving a field out keeps it.
    not_null = frozenset(
        {name for name in ProviderFields.model_fields if name != "organization"} | {"name"}
    )


class Providers:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(
        self, actor: Actor, page: PageRequest, filters: ProviderFilter | None = None
    ) -> Page[ProviderView]:
        query = visible_query(actor, filters or ProviderFilter())
        async with self.db.read(actor) as tx:
            total = await tx.session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await tx.session.scalars(
                query.order_by(Provider.owner_user_id.is_not(None), Provider.name, Provider.id)
                .limit(page.limit)
                .offset(page.offset)
            )
            items = [view(p, actor) for p in rows]
        return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)

    async def get(self, actor: Actor, provider_id: uuid.UUID | str) -> ProviderView:
        async with self.db.read(actor) as tx:
            return view(await provider_visible(tx, provider_id), actor)

    async def many(
        self, actor: Actor, provider_ids: Sequence[uuid.UUID]
    ) -> builtins.list[ProviderView | None]:
        """The providers of ``provider_ids`` in that order (None where ``actor`` may not see
        one or there is none), in one query."""
        query = visible_query(actor, ProviderFilter()).where(Provider.id.in_(set(provider_ids)))
        async with self.db.read(actor) as tx:
            found = {p.id: view(p, actor) for p in await tx.session.scalars(query)}
        return [found.get(pid) for pid in provider_ids]

    async def create(self, actor: Actor, raw: Any) -> ProviderView:
        spec: ProviderCreate = check(ProviderCreate, raw)
        owner_id = _owner_for(actor, spec.owner)
        kind = kind_of(spec.kind)
        config = typed_config(kind, spec.config or {})
        api_key = spec.api_key.get_secret_value() if spec.api_key else None
        # A disabled provider may wait for its key; enabling it checks again (set_enabled).
        check_api_key(kind, config, api_key, creating=spec.enabled)
        base_url = base_url_for(kind, spec.base_url)
        await check_member_reach(self.db, actor, base_url)
        async with self.db.write(actor) as tx:
            await name_free(tx, owner_id, spec.name, None)
            if spec.is_default:  # one event for the new provider: its creation, as default
                default_allowed(spec.name, spec.enabled)
                await unset_default(tx, owner_id)
            provider = Provider(
                id=uuid.uuid4(),
                owner_user_id=owner_id,
                kind=kind.name,
                name=spec.name,
                display_name=spec.display_name or spec.name,
                description=spec.description or "",
                base_url=base_url,
                organization=spec.organization,
                custom_headers=check_headers(spec.custom_headers or {}),
                config=config.model_dump(mode="json", exclude_none=True),
                timeout_ms=spec.timeout_ms or 60_000,
                max_parallel=spec.max_parallel,
                rpm_limit=spec.rpm_limit,
                tpm_limit=spec.tpm_limit,
                weight=spec.weight or 1,
                enabled=spec.enabled,
                is_default=spec.is_default,
                is_active=False,
                config_version=1,
                created_by=actor.user_id,
                updated_by=actor.user_id,
                created_at=tx.now,
                updated_at=tx.now,
            )
            if api_key is not None:
                seal_key(tx, provider, api_key)
            tx.session.add(provider)
            await tx.session.flush()
            await tx.record(
                "provider.create",
                "provider",
                provider.id,
                after=snapshot(provider),
                config_version=1,
            )
            return view(provider, actor)

    async def update(self, actor: Actor, provider_id: uuid.UUID | str, raw: Any) -> ProviderView:
        spec: ProviderUpdate = check(ProviderUpdate, raw)
        changes = spec.model_dump(exclude_unset=True)
        if "base_url" in changes:
            changes["base_url"] = await self._member_url(actor, provider_id, changes["base_url"])
        async with self.db.write(actor) as tx:
            provider = await provider_manageable(tx, provider_id)
            if "name" in changes:
                await name_free(tx, provider.owner_user_id, changes["name"], provider.id)
            if "config" in changes:
                kind = kind_of_provider(provider.name, provider.kind)
                changes["config"] = typed_config(kind, changes["config"]).model_dump(
                    mode="json", exclude_none=True
                )
            if "custom_headers" in changes:
                check_headers(changes["custom_headers"])
            return await apply_change(tx, provider, "provider.update", changes)

    async def _member_url(self, actor: Actor, provider_id: uuid.UUID | str, url: str) -> str:
        """The new base URL, checked before the write: its shape, and its address when the
        provider is a member's (a host name is resolved, outside of any transaction)."""
        async with self.db.read(actor) as tx:
            provider = await provider_manageable(tx, provider_id)
            url = base_url_for(kind_of_provider(provider.name, provider.kind), url)
        await check_member_reach(self.db, actor, url, provider_id)
        return url

    async def rotate_key(
        self, actor: Actor, provider_id: uuid.UUID | str, api_key: str | None
    ) -> ProviderView:
        """Replace (or, where the kind allows, remove) the provider's API key."""
        async with self.db.write(actor) as tx:
            provider = await provider_manageable(tx, provider_id)
            kind = kind_of_provider(provider.name, provider.kind)
            config = typed_config(kind, provider.config)
            check_api_key(kind, config, api_key, creating=False)
            if api_key is None and kind.requires_key(config):
                raise ValidationFailed.at("api_key", f"is required for kind {kind.name!r}")
            before = snapshot(provider)
            if api_key is None:
                provider.api_key_sealed = provider.api_key_hint = None
            else:
                seal_key(tx, provider, api_key)
            return await apply_change(tx, provider, "provider.rotate_key", {}, before=before)

    async def set_enabled(
        self, actor: Actor, provider_id: uuid.UUID | str, enabled: bool
    ) -> ProviderView:
        async with self.db.write(actor) as tx:
            provider = await provider_manageable(tx, provider_id)
            if not enabled and provider.is_active:
                raise Conflict(
                    "the active provider cannot be disabled; activate another first",
                    code="PROVIDER_IS_ACTIVE",
                )
            if enabled:  # a provider whose kind is not installed could not serve
                kind = kind_of_provider(provider.name, provider.kind)
                if provider.api_key_sealed is None:
                    key_not_required(kind, provider.config)
            changes: dict[str, Any] = {"enabled": enabled}
            if not enabled:
                changes["is_default"] = False
            action = "provider.enable" if enabled else "provider.disable"
            return await apply_change(tx, provider, action, changes)

    async def set_default(self, actor: Actor, provider_id: uuid.UUID | str) -> ProviderView:
        async with self.db.write(actor) as tx:
            provider = await provider_manageable(tx, provider_id)
            await make_default(tx, provider)
            return view(provider, actor)

    async def activate(self, actor: Actor, provider_id: uuid.UUID | str) -> ProviderView:
        async with self.db.write(actor) as tx:
            provider = await provider_manageable(tx, provider_id)
            if provider.owner_user_id is not None:
                raise Conflict(
                    "only system providers can be the active provider", code="PROVIDER_NOT_SYSTEM"
                )
            if not provider.enabled:
                raise Conflict(
                    f"provider {provider.name!r} is disabled; enable it first",
                    code="PROVIDER_DISABLED",
                )
            if provider.is_active:
                return view(provider, actor)
            previous = await tx.session.scalar(select(Provider).where(Provider.is_active))
            if previous is not None:
                await apply_change(tx, previous, "provider.deactivate", {"is_active": False})
            return await apply_change(tx, provider, "provider.activate", {"is_active": True})

    async def delete(self, actor: Actor, provider_id: uuid.UUID | str) -> None:
        async with self.db.write(actor) as tx:
            provider = await provider_manageable(tx, provider_id)
            if provider.is_active:
                raise Conflict(
                    "the active provider cannot be deleted; activate another first",
                    code="PROVIDER_IS_ACTIVE",
                )
            before = snapshot(provider)
            await tx.session.delete(provider)
            await tx.record(
                "provider.delete",
                "provider",
                provider.id,
                before=before,
                config_version=provider.config_version,
            )


def _owner_for(actor: Actor, owner: Owner | None) -> uuid.UUID | None:
    if actor.is_admin:
        if owner == "me" and actor.user_id is None:
            raise ValidationFailed.at("owner", "the operator has no user; use 'system'")
        return actor.user_id if owner == "me" else None
    if owner == "system":
        raise Forbidden("only admins create system providers")
    return actor.user_id
