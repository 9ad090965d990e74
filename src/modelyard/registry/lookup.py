"""Loading providers and models as a given actor sees them.

A member sees system providers (and their models) and their own; anything else is reported
as not found, so nobody learns that another user's provider exists. Seeing is not managing:
system providers and their models are managed by admins only (403 for members).
"""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import Select, select

from modelyard.db.tables import Model, Provider
from modelyard.errors import Forbidden
from modelyard.kinds.base import kind_of
from modelyard.registry.actors import Actor
from modelyard.registry.common import Spec, not_found, parse_id
from modelyard.registry.tx import Tx


def can_see(actor: Actor, provider: Provider) -> bool:
    return actor.sees_everyones or provider.owner_user_id in (None, actor.user_id)


async def provider_visible(tx: Tx, provider_id: uuid.UUID | str) -> Provider:
    pid = parse_id(provider_id, "provider")
    provider = await tx.session.get(Provider, pid)
    if provider is None or not can_see(tx.actor, provider):
        raise not_found("provider", pid)
    return provider


async def provider_manageable(tx: Tx, provider_id: uuid.UUID | str) -> Provider:
    provider = await provider_visible(tx, provider_id)
    if provider.owner_user_id is None and not tx.actor.is_admin:
        raise Forbidden("only admins manage system providers and their models")
    return provider


async def model_visible(tx: Tx, model_id: uuid.UUID | str) -> tuple[Model, Provider]:
    mid = parse_id(model_id, "model")
    row = (
        await tx.session.execute(
            select(Model, Provider)
            .join(Provider, Provider.id == Model.provider_id)
            .where(Model.id == mid)
        )
    ).first()
    if row is None or not can_see(tx.actor, row[1]):
        raise not_found("model", mid)
    return row[0], row[1]


async def model_manageable(tx: Tx, model_id: uuid.UUID | str) -> tuple[Model, Provider]:
    model, provider = await model_visible(tx, model_id)
    if provider.owner_user_id is None and not tx.actor.is_admin:
        raise Forbidden("only admins manage system providers and their models")
    return model, provider


class ProviderFilter(Spec):
    owner: Literal["system", "mine", "all"] = "all"
    kind: str | None = None
    enabled: bool | None = None


def visible_query(actor: Actor, filters: ProviderFilter) -> Select[Provider]:
    query = select(Provider)
    if filters.owner == "system":
        query = query.where(Provider.owner_user_id.is_(None))
    elif filters.owner == "mine":
        query = query.where(Provider.owner_user_id == actor.user_id)
    elif not actor.sees_everyones:
        query = query.where(
            (Provider.owner_user_id.is_(None)) | (Provider.owner_user_id == actor.user_id)
        )
    if filters.kind is not None:
        query = query.where(Provider.kind == kind_of(filters.kind).name)
    if filters.enabled is not None:
        query = query.where(Provider.enabled == filters.enabled)
    return query
