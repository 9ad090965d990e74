"""The audit trail: append-only, hash-chained events of every configuration change.

Each event stores the hash of the one before it and its own hash over a canonical JSON form
of its content, so changing, removing or reordering any event breaks the chain at that point
and :func:`verify_chain` names the first broken link. On PostgreSQL a trigger also refuses
UPDATE, DELETE and TRUNCATE on the table.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.db.tables import AuditEvent

GENESIS = "0" * 64


def event_hash(prev_hash: str, content: dict[str, Any]) -> str:
    body = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(prev_hash.encode() + b"\n" + body).hexdigest()


def event_content(event: AuditEvent) -> dict[str, Any]:
    return {
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
        "config_version": event.config_version,
    }


async def last_hash(session: AsyncSession) -> str:
    found = await session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return found or GENESIS


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


async def _events(session: AsyncSession, batch: int = 1000) -> AsyncIterator[AuditEvent]:
    after = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id).limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1].id
        session.expunge_all()


def link_problem(prev_hash: str, event: AuditEvent) -> str | None:
    """What is wrong with ``event`` after an event whose hash is ``prev_hash``, or None."""
    if event.prev_hash != prev_hash:
        return "does not link to the event before it"
    if event_hash(prev_hash, event_content(event)) != event.hash:
        return "content does not match its hash"
    return None


async def verify_chain(session: AsyncSession) -> ChainReport:
    prev = GENESIS
    checked = 0
    async for event in _events(session):
        problem = link_problem(prev, event)
        if problem is not None:
            return ChainReport(checked, event.id, problem)
        prev = event.hash
        checked += 1
    return ChainReport(checked, None, None)


async def event_problem(session: AsyncSession, event: AuditEvent) -> str | None:
    """What is wrong with one event's own link (None: nothing), against the event before
    it as stored now: two rows read, not the whole chain."""
    prev = await session.scalar(
        select(AuditEvent.hash)
        .where(AuditEvent.id < event.id)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    return link_problem(prev or GENESIS, event)


def new_event(
    *,
    prev_hash: str,
    occurred_at: datetime,
    actor_id: str | None,
    actor_label: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: Any,
    after: Any,
    config_version: int | None,
) -> AuditEvent:
    event = AuditEvent(
        occurred_at=occurred_at,
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        config_version=config_version,
        prev_hash=prev_hash,
    )
    event.hash = event_hash(prev_hash, event_content(event))
    return event
