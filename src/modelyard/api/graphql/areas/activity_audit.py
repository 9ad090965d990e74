"""The audit trail (REST /api/v1/audit, admins): ``auditEvents`` newest first and
``verifyAuditChain``, the check of its hash chain."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from modelyard.api.graphql.context import Info
from modelyard.api.graphql.pagination import Connection, from_page, window
from modelyard.api.graphql.scalars import JSON
from modelyard.errors import check
from modelyard.registry.audit import ChainReport
from modelyard.registry.audit_log import AuditEventView, AuditFilter
from modelyard.registry.scopes import REGISTRY_READ


@strawberry.type(
    description="One change to the registry: who did what to which entity, the entity before"
    " and after (secrets masked, as REST shows them) and its link in the hash chain."
)
class AuditEvent:
    id: strawberry.ID = strawberry.field(description="its place in the chain (1, 2, ...)")
    occurred_at: datetime.datetime
    actor_id: str | None
    actor_label: str
    action: str
    entity_type: str
    entity_id: str
    before: JSON | None
    after: JSON | None
    config_version: int | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, view: AuditEventView) -> AuditEvent:
        return cls(
            id=strawberry.ID(str(view.id)),
            occurred_at=view.occurred_at,
            actor_id=view.actor_id,
            actor_label=view.actor_label,
            action=view.action,
            entity_type=view.entity_type,
            entity_id=view.entity_id,
            before=view.before,
            after=view.after,
            config_version=view.config_version,
            prev_hash=view.prev_hash,
            hash=view.hash,
        )


@strawberry.type(description="The audit trail's hash chain checked, and where it first breaks.")
class AuditChainCheck:
    ok: bool
    checked: int = strawberry.field(description="events checked")
    broken_at: strawberry.ID | None = strawberry.field(description="the first broken event's id")
    reason: str | None

    @classmethod
    def of(cls, report: ChainReport) -> AuditChainCheck:
        return cls(
            ok=report.ok,
            checked=report.checked,
            broken_at=None if report.broken_at is None else strawberry.ID(str(report.broken_at)),
            reason=report.reason,
        )


@strawberry.type
class Query:
    @strawberry.field(
        description="Audit events, newest first (admins). Scope registry.read.",
    )
    async def audit_events(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        entity_type: str | None = None,
        entity_id: str | None = None,
        action: str | None = None,
        actor_id: str | None = None,
        since: Annotated[
            datetime.datetime | None, strawberry.argument(description="inclusive")
        ] = None,
        until: Annotated[
            datetime.datetime | None, strawberry.argument(description="exclusive")
        ] = None,
    ) -> Connection[AuditEvent]:
        actor = info.context.need(REGISTRY_READ)
        at = window(first, after)
        filters: AuditFilter = check(
            AuditFilter,
            {
                "entity_type": entity_type,
                "entity_id": entity_id,
                "action": action,
                "actor_id": actor_id,
                "since": since,
                "until": until,
            },
        )
        page = await info.context.registry.audit.list(actor, at.request(), filters)
        return from_page(page, at, AuditEvent.of)

    @strawberry.field(
        description="Check the audit trail's hash chain (admins); names the first broken"
        " event. Scope registry.read."
    )
    async def verify_audit_chain(self, info: Info) -> AuditChainCheck:
        actor = info.context.need(REGISTRY_READ)
        return AuditChainCheck.of(await info.context.registry.audit.verify(actor))
