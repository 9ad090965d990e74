"""What the outside world sees of a provider: never the key, only a masked hint; never a
user/password in its base URL either (refused since, shown as ``***`` on older rows)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from modelyard.adapters.reach import masked_url
from modelyard.db.tables import Provider
from modelyard.registry.actors import Actor
from modelyard.registry.common import View


class ProviderView(View):
    id: uuid.UUID
    scope: str
    owner_user_id: uuid.UUID | None
    kind: str
    name: str
    display_name: str
    description: str
    base_url: str
    api_key: str | None
    has_api_key: bool
    organization: str | None
    custom_headers: dict[str, str]
    config: dict[str, Any]
    timeout_ms: int
    max_parallel: int | None
    rpm_limit: int | None
    tpm_limit: int | None
    weight: int
    enabled: bool
    is_default: bool
    is_active: bool
    config_version: int
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


def view(provider: Provider, actor: Actor | None) -> ProviderView:
    manages = actor is None or actor.sees_everyones or provider.owner_user_id == actor.user_id
    return ProviderView(
        id=provider.id,
        scope="system" if provider.owner_user_id is None else "user",
        owner_user_id=provider.owner_user_id,
        kind=provider.kind,
        name=provider.name,
        display_name=provider.display_name,
        description=provider.description,
        base_url=masked_url(provider.base_url),
        api_key=provider.api_key_hint if manages else None,
        has_api_key=provider.api_key_sealed is not None,
        organization=provider.organization,
        custom_headers=dict(provider.custom_headers),
        config=dict(provider.config),
        timeout_ms=provider.timeout_ms,
        max_parallel=provider.max_parallel,
        rpm_limit=provider.rpm_limit,
        tpm_limit=provider.tpm_limit,
        weight=provider.weight,
        enabled=provider.enabled,
        is_default=provider.is_default,
        is_active=provider.is_active,
        config_version=provider.config_version,
        created_by=provider.created_by,
        updated_by=provider.updated_by,
        created_at=provider.created_at,
        updated_at=provider.updated_at,
    )


def snapshot(provider: Provider) -> dict[str, Any]:
    """The audit form: the masked view, JSON-native."""
    data = view(provider, None).model_dump(mode="json")
    data.pop("created_at")
    data.pop("updated_at")
    return data
