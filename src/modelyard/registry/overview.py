"""The admin overview (seed 001's "list providers with their models"): every provider the
actor may see, each with its models and their current prices.

The whole registry's overview is built once and kept as a snapshot keyed by the registry's
configuration generation (bumped by every committed, audited change) and valid until the
next future-dated price takes effect. A request then costs one small query (the generation)
plus filtering in memory. After a change the snapshot is built from the one before, reading
again only the providers and models the change moved (:mod:`.overview_build`): a constant
number of SELECTs whatever the registry's size, with no N+1. The snapshot holds JSON-native
documents shaped like :class:`ProviderOverview` (built from plain columns, not ORM objects
or validated models: at 2,000 models that is the difference between tens of milliseconds
and a few), and the admin's unfiltered JSON is encoded once per snapshot.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.db.tables import Plan, RegistryState, Subscription
from modelyard.errors import ValidationFailed
from modelyard.kinds.base import kind_of
from modelyard.registry.actors import Actor
from modelyard.registry.lookup import ProviderFilter
from modelyard.registry.model_views import CAPABILITIES, ModelView
from modelyard.registry.overview_build import Doc, Snapshot, build
from modelyard.registry.provider_views import ProviderView
from modelyard.registry.tx import Database


class ProviderOverview(ProviderView):
    models: list[ModelView]


class Overview:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._snapshot: Snapshot | None = None
        self._rebuild = asyncio.Lock()

    async def list_with_models(
        self, actor: Actor, filters: ProviderFilter | None = None
    ) -> list[Doc]:
        """JSON-native documents, each shaped like :class:`ProviderOverview`."""
        wanted = _checked(filters)
        snapshot = await self._current(actor)
        return [_as_seen_by(actor, p) for p in snapshot.providers if _matches(actor, p, wanted)]

    async def list_with_models_json(
        self, actor: Actor, filters: ProviderFilter | None = None
    ) -> bytes:
        """The same as JSON bytes, as the REST API serves them."""
        wanted = _checked(filters)
        if actor.sees_everyones and wanted == ProviderFilter():
            return (await self._current(actor)).encoded()
        return orjson.dumps(await self.list_with_models(actor, wanted))

    async def typed(
        self, actor: Actor, filters: ProviderFilter | None = None
    ) -> list[ProviderOverview]:
        """Validated views, for in-process callers that want objects (slower)."""
        docs = await self.list_with_models(actor, filters)
        return [ProviderOverview.model_validate(d) for d in docs]

    async def models(
        self,
        actor: Actor,
        provider_id: uuid.UUID | None = None,
        status: str | None = None,
        capability: str | None = None,
    ) -> list[Doc]:
        """The providers ``actor`` may see, each with only its models that match (those
        without any left out): what GET /api/v1/models lists, unpaged."""
        wanted = _ModelWanted(status, _capability(capability))
        found = []
        for provider in (await self._current(actor)).providers:
            if provider_id is not None and provider["id"] != str(provider_id):
                continue
            if _matches(actor, provider, ProviderFilter()):
                found += _with_models(actor, provider, wanted)
        return found

    async def available(self, actor: Actor, capability: str | None = None) -> list[Doc]:
        """The providers whose models ``actor`` can call now (enabled, system ones or their
        own), each with only its ACTIVE models (having ``capability``, when given) that the
        caller's plan allows: what /v1/models lists for them, less the deprecated."""
        wanted = _ModelWanted("ACTIVE", _capability(capability))
        snapshot = await self._current(actor)
        async with self.db.read(actor) as tx:
            wanted.allowed = await _plan_allows(tx.session, actor.user_id)
        me = str(actor.user_id) if actor.user_id else None
        found = []
        for provider in snapshot.providers:
            if provider["enabled"] and provider["owner_user_id"] in (None, me):
                found += _with_models(actor, provider, wanted)
        return found

    async def _current(self, actor: Actor) -> Snapshot:
        async with self.db.read(actor) as tx:
            generation = await _generation(tx.session)
            if self._snapshot is not None and self._snapshot.fresh(generation, tx.now):
                return self._snapshot
        async with self._rebuild:  # one rebuild at a time; latecomers reuse it
            async with self.db.read(actor) as tx:
                generation = await _generation(tx.session)
                if self._snapshot is None or not self._snapshot.fresh(generation, tx.now):
                    previous = self._snapshot
                    self._snapshot = await build(tx.session, previous, generation, tx.now)
            return self._snapshot


async def _generation(session: AsyncSession) -> int:
    found = await session.scalar(select(RegistryState.generation).where(RegistryState.id == 1))
    return int(found or 0)


def _checked(filters: ProviderFilter | None) -> ProviderFilter:
    wanted = filters or ProviderFilter()
    if wanted.kind is not None:
        kind_of(wanted.kind)  # an unknown kind is an error, not an empty list
    return wanted


def _matches(actor: Actor, provider: Doc, wanted: ProviderFilter) -> bool:
    owner = provider["owner_user_id"]
    me = str(actor.user_id) if actor.user_id else None
    if not actor.sees_everyones and owner not in (None, me):
        return False
    if wanted.owner == "system" and owner is not None:
        return False
    if wanted.owner == "mine" and (owner is None or owner != me):
        return False
    if wanted.kind is not None and provider["kind"] != wanted.kind:
        return False
    return wanted.enabled is None or provider["enabled"] == wanted.enabled


@dataclass
class _ModelWanted:
    status: str | None
    capability: str | None
    allowed: frozenset[str] | None = None  # a plan's allowed models (None: any)

    def __call__(self, provider: Doc, model: Doc) -> bool:
        if self.status is not None and model["status"] != self.status:
            return False
        if self.capability is not None and self.capability not in model["capabilities"]:
            return False
        names = {model["model_id"], f"{provider['name']}/{model['model_id']}"}
        return self.allowed is None or bool(names & self.allowed)


def _with_models(actor: Actor, provider: Doc, wanted: _ModelWanted) -> list[Doc]:
    models = [m for m in provider["models"] if wanted(provider, m)]
    return [{**_as_seen_by(actor, provider), "models": models}] if models else []


def _capability(capability: str | None) -> str | None:
    if capability is not None and capability not in CAPABILITIES:
        raise ValidationFailed.at(
            "capability", f"{capability!r} is not a capability; valid: {list(CAPABILITIES)}"
        )
    return capability


async def _plan_allows(session: AsyncSession, user_id: uuid.UUID | None) -> frozenset[str] | None:
    """The models the user's deciding plan allows (None: any), as the gateway decides it:
    the current subscription (active or suspended), else the latest that ended."""
    if user_id is None:
        return None
    rows = await session.execute(
        select(Subscription.status, Plan.allowed_models)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.user_id == user_id)
        .order_by(Subscription.created_at, Subscription.id)
    )
    status, allowed = None, None
    for row_status, row_allowed in rows:
        if status in _CURRENT and row_status not in _CURRENT:
            continue
        status, allowed = row_status, row_allowed
    return None if allowed is None else frozenset(allowed)


_CURRENT = ("active", "suspended")  # a subscription's states that decide while they last


def _as_seen_by(actor: Actor, provider: Doc) -> Doc:
    manages = actor.sees_everyones or provider["owner_user_id"] == str(actor.user_id)
    return provider if manages else {**provider, "api_key": None}


__all__ = ["Doc", "Overview", "ProviderOverview"]
