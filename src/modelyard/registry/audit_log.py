"""Reading the audit trail and checking its hash chain. Nothing here changes an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, or_, select

from modelyard.db.tables import AuditEvent, User
from modelyard.errors import NotFound
from modelyard.registry.actors import Actor
from modelyard.registry.audit import ChainReport, event_problem, verify_chain
from modelyard.registry.common import Page, PageRequest, Spec, View
from modelyard.registry.fields import INT64_MAX, Instant
from modelyard.registry.tx import Database, Tx

# The filters' suggestions come from this many newest events: a bounded read (no index
# serves DISTINCT over the whole trail), and what a person looks for is usually recent.
RECENT_FOR_CHOICES = 5000


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
    entity_type: str | None = Field(default=None, max_length=32)
    entity_id: str | None = Field(default=None, max_length=64)
    action: str | None = Field(default=None, max_length=64)
    actor_id: str | None = Field(default=None, max_length=64)
    # Who acted, as a person knows them: a user's email or id, or an operator's label
    # (``cli``): a person filtering the trail rarely knows an id.
    actor: str | None = Field(default=None, max_length=320)
    since: Instant | None = None
    until: Instant | None = None


class AuditChoices(BaseModel):
    """Suggestions for the trail's filters: the actions and entity types of recent events."""

    actions: list[str]
    entity_types: list[str]


class AuditSlice(BaseModel):
    """Events newest first, and where the next (older) slice starts, if there is one."""

    items: list[AuditEventView]
    older: int | None  # pass as ``before`` for the next slice


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(
        self, actor: Actor, page: PageRequest, filters: AuditFilter | None = None
    ) -> Page[AuditEventView]:
        actor.require_admin("read the audit trail")
        f = filters or AuditFilter()
        async with self.db.read(actor) as tx:
            query = await _filtered(tx, f)
            total = await tx.session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await tx.session.scalars(
                query.order_by(AuditEvent.id.desc()).limit(page.limit).offset(page.offset)
            )
            items = [AuditEventView.model_validate(e) for e in rows]
        return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)

    async def browse(
        self, actor: Actor, filters: AuditFilter, *, before: int | None = None, limit: int = 20
    ) -> AuditSlice:
        """Up to ``limit`` events older than event ``before``, newest first, without counting
        every match: a page of a long trail reads its own rows (by the primary key) and one
        more, however far back it is."""
        actor.require_admin("read the audit trail")
        async with self.db.read(actor) as tx:
            query = await _filtered(tx, filters)
            if before is not None:
                query = query.where(AuditEvent.id < min(before, INT64_MAX))
            rows = list(
                await tx.session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit + 1))
            )
            items = [AuditEventView.model_validate(e) for e in rows[:limit]]
        older = items[-1].id if len(rows) > limit else None
        return AuditSlice(items=items, older=older)

    async def get(self, actor: Actor, event_id: int) -> AuditEventView:
        """One event by its number; a number no event has (or no column holds) is not found."""
        event, _ = await self.inspect(actor, event_id, check=False)
        return event

    async def inspect(
        self, actor: Actor, event_id: int, *, check: bool = True
    ) -> tuple[AuditEventView, str | None]:
        """One event and what is wrong with its link in the chain (None: nothing): its hash
        over its content and its link to the event stored before it."""
        actor.require_admin("read the audit trail")
        missing = NotFound(f"audit event {event_id} not found", code="AUDIT_EVENT_NOT_FOUND")
        if not 1 <= event_id <= INT64_MAX:
            raise missing
        async with self.db.read(actor) as tx:
            event = await tx.session.get(AuditEvent, event_id)
            if event is None:
                raise missing
            problem = await event_problem(tx.session, event) if check else None
            return AuditEventView.model_validate(event), problem

    async def choices(self, actor: Actor) -> AuditChoices:
        """The distinct actions and entity types of the newest events, sorted."""
        actor.require_admin("read the audit trail")
        recent = (
            select(AuditEvent.action, AuditEvent.entity_type)
            .order_by(AuditEvent.id.desc())
            .limit(RECENT_FOR_CHOICES)
            .subquery()
        )
        async with self.db.read(actor) as tx:
            rows = (await tx.session.execute(select(recent.c.action, recent.c.entity_type))).all()
        return AuditChoices(
            actions=sorted({r.action for r in rows}),
            entity_types=sorted({r.entity_type for r in rows}),
        )

    async def verify(self, actor: Actor) -> ChainReport:
        actor.require_admin("verify the audit trail")
        async with self.db.read(actor) as tx:
            return await verify_chain(tx.session)


async def _filtered(tx: Tx, f: AuditFilter) -> Select[AuditEvent]:
    query = select(AuditEvent)
    for column, value in (
        (AuditEvent.entity_type, f.entity_type),
        (AuditEvent.entity_id, f.entity_id),
        (AuditEvent.action, f.action),
        (AuditEvent.actor_id, f.actor_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if f.actor:
        ids = [f.actor]
        user_id = await tx.session.scalar(
            select(User.id).where(User.email_normalized == f.actor.lower())
        )
        if user_id is not None:
            ids.append(str(user_id))
        query = query.where(or_(AuditEvent.actor_id.in_(ids), AuditEvent.actor_label == f.actor))
    if f.since is not None:
        query = query.where(AuditEvent.occurred_at >= f.since)
    if f.until is not None:
        query = query.where(AuditEvent.occurred_at < f.until)
    return query
