"""Each user's preferences: default model, temperature (0-2) and streaming."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field

from modelyard.db.tables import UserPreference
from modelyard.errors import Conflict, ValidationFailed, check
from modelyard.registry.actors import Actor
from modelyard.registry.common import Amount, Spec, View, jsonable
from modelyard.registry.lookup import model_visible
from modelyard.registry.tx import Database, Tx


class PreferencesView(View):
    user_id: uuid.UUID
    default_model_id: uuid.UUID | None
    temperature: Amount | None
    streaming: bool
    updated_at: datetime | None


class PreferencesUpdate(Spec):
    default_model_id: uuid.UUID | None = None
    temperature: Decimal | None = Field(default=None, ge=0, le=2, decimal_places=2)
    streaming: bool | None = None

    not_null = frozenset({"streaming"})


class Preferences:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, actor: Actor) -> PreferencesView:
        user_id = _user(actor)
        async with self.db.read(actor) as tx:
            row = await tx.session.get(UserPreference, user_id)
            return _view(user_id, row)

    async def update(self, actor: Actor, raw: Any) -> PreferencesView:
        user_id = _user(actor)
        spec: PreferencesUpdate = check(PreferencesUpdate, raw)
        changes = spec.model_dump(exclude_unset=True)
        async with self.db.write(actor) as tx:
            if changes.get("default_model_id") is not None:
                await _usable_model(tx, changes["default_model_id"])
            row = await tx.session.get(UserPreference, user_id)
            before = jsonable(_view(user_id, row).model_dump()) if row else None
            if row is None:
                row = UserPreference(user_id=user_id, streaming=True, updated_at=tx.now)
                tx.session.add(row)
            for field, value in changes.items():
                setattr(row, field, value)
            row.updated_at = tx.now
            await tx.session.flush()
            after = _view(user_id, row)
            await tx.record(
                "preferences.update",
                "user",
                user_id,
                before=before,
                after=jsonable(after.model_dump()),
            )
            return after


def _user(actor: Actor) -> uuid.UUID:
    if actor.user_id is None:
        raise ValidationFailed.at("user", "preferences belong to a user; the operator has none")
    return actor.user_id


async def _usable_model(tx: Tx, model_id: uuid.UUID) -> None:
    model, provider = await model_visible(tx, model_id)
    if provider.owner_user_id not in (None, tx.actor.user_id):
        raise ValidationFailed.at("default_model_id", "is not a model you may use")
    if model.status != "ACTIVE":
        raise Conflict(
            f"model {model.model_id!r} is deprecated and cannot be a default",
            code="MODEL_DEPRECATED",
        )
    if not provider.enabled:
        raise Conflict(f"provider {provider.name!r} is disabled", code="PROVIDER_DISABLED")


def _view(user_id: uuid.UUID, row: UserPreference | None) -> PreferencesView:
    if row is None:
        return PreferencesView(
            user_id=user_id,
            default_model_id=None,
            temperature=None,
            streaming=True,
            updated_at=None,
        )
    return PreferencesView(
        user_id=user_id,
        default_model_id=row.default_model_id,
        temperature=row.temperature,
        streaming=row.streaming,
        updated_at=row.updated_at,
    )
