"""Reading the audit trail and checking its hash chain. Nothing here changes an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from modelyard.db.tables import AuditEvent
from modelyard.registry.actors import Actor
from modelyard.registry.audit import ChainReport, verify_chain
from modelyard.registry.common import Page, PageRequest, Spec, View
from modelyard.registry.fields import Instant
from modelyard.registry.tx import Database


class AuditEventView(View):
    id: int
    occurred_at: datetime
    actor_id: str | None
    actor_label: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    config_version: int | None
    prev_hash: str
    hash: str


class AuditFilter(Spec):
    entity_type: str | None = None
    entity_id: str | None = None
    action: str | None = None
    actor_id: str | None = None
    since: Instant | None = None
    until: Instant | None = None


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(
        self, actor: Actor, page: PageRequest, filters: AuditFilter | None = None
    ) -> Page[AuditEventView]:
        actor.require_admin("read the audit trail")
        f = filters or AuditFilter()
        query = select(AuditEvent)
        for column, value in (
            (AuditEvent.entity_type, f.entity_type),
            (AuditEvent.entity_id, f.entity_id),
            (AuditEvent.action, f.action),
            (AuditEvent.actor_id, f.actor_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if f.since is not None:
            query = query.where(AuditEvent.occurred_at >= f.since)
        if f.until is not None:
            query = query.where(AuditEvent.occurred_at < f.until)
        async with self.db.read(actor) as tx:
            total = await tx.session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await tx.session.scalars(
                query.order_by(AuditEvent.id.desc()).limit(page.limit).offset(page.offset)
            )
            items = [AuditEventView.model_validate(e) for e in rows]
        return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)

    async def verify(self, actor: Actor) -> ChainReport:
        actor.require_admin("verify the audit trail")
        async with self.db.read(actor) as tx:
            return await verify_chain(tx.session)
