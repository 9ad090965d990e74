"""Changing a provider row: every change bumps its config_version and writes one audit event;
defaults move within one owner; names stay unique per owner; keys are sealed to their row."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from modelyard.db.tables import Provider
from modelyard.errors import Conflict, ValidationFailed
from modelyard.kinds.base import Kind, typed_config
from modelyard.registry.provider_views import ProviderView, snapshot, view
from modelyard.registry.secrets import mask
from modelyard.registry.tx import Tx


async def name_free(
    tx: Tx, owner_id: uuid.UUID | None, name: str, own_id: uuid.UUID | None
) -> None:
    owner_clause = (
        Provider.owner_user_id.is_(None) if owner_id is None else Provider.owner_user_id == owner_id
    )
    found = await tx.session.scalar(select(Provider.id).where(owner_clause, Provider.name == name))
    if found is not None and found != own_id:
        scope = "system providers" if owner_id is None else "this owner's providers"
        raise Conflict(
            f"a provider named {name!r} already exists among {scope}",
            code="NAME_TAKEN",
            details={"name": name},
        )


def key_not_required(kind: Kind, config: dict[str, Any]) -> None:
    if kind.requires_key(typed_config(kind, config)):
        raise ValidationFailed.at(
            "api_key", f"is required to enable a {kind.name!r} provider; set an api key first"
        )


def seal_key(tx: Tx, provider: Provider, api_key: str) -> None:
    provider.api_key_sealed = tx.keyring.seal(api_key, context=f"provider:{provider.id}")
    provider.api_key_hint = mask(api_key)


def default_allowed(name: str, enabled: bool) -> None:
    if not enabled:
        raise Conflict(f"provider {name!r} is disabled; enable it first", code="PROVIDER_DISABLED")


async def unset_default(tx: Tx, owner_id: uuid.UUID | None) -> None:
    owner_clause = (
        Provider.owner_user_id.is_(None) if owner_id is None else Provider.owner_user_id == owner_id
    )
    previous = await tx.session.scalar(select(Provider).where(owner_clause, Provider.is_default))
    if previous is not None:
        await apply_change(tx, previous, "provider.unset_default", {"is_default": False})


async def make_default(tx: Tx, provider: Provider) -> None:
    default_allowed(provider.name, provider.enabled)
    if provider.is_default:
        return
    await unset_default(tx, provider.owner_user_id)
    await apply_change(tx, provider, "provider.set_default", {"is_default": True})


async def apply_change(
    tx: Tx,
    provider: Provider,
    action: str,
    changes: dict[str, Any],
    before: dict[str, Any] | None = None,
) -> ProviderView:
    before = before or snapshot(provider)
    for field, value in changes.items():
        setattr(provider, field, value)
    provider.config_version += 1
    provider.updated_at = tx.now
    provider.updated_by = tx.actor.user_id
    await tx.session.flush()
    await tx.record(
        action,
        "provider",
        provider.id,
        before=before,
        after=snapshot(provider),
        config_version=provider.config_version,
    )
    return view(provider, tx.actor)
