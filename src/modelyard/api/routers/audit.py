"""/api/v1/audit: the hash-chained audit trail (admins), newest first, and its check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from modelyard.api.deps import Paging, Reader, RegistryDep
from modelyard.registry.audit_log import AuditEventView, AuditFilter
from modelyard.registry.common import Page
from modelyard.registry.fields import Instant

router = APIRouter(prefix="/audit", tags=["audit"])


class ChainCheck(BaseModel):
    ok: bool
    checked: int
    broken_at: int | None
    reason: str | None


@router.get("", summary="Audit events, newest first (admins)")
async def list_events(
    registry: RegistryDep,
    actor: Reader,
    page: Paging,
    entity_type: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    actor_id: str | None = None,
    since: Annotated[Instant | None, Query(description="inclusive")] = None,
    until: Annotated[Instant | None, Query(description="exclusive")] = None,
) -> Page[AuditEventView]:
    filters = AuditFilter(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        actor_id=actor_id,
        since=since,
        until=until,
    )
    return await registry.audit.list(actor, page, filters)


@router.get("/verify", summary="Check the hash chain; names the first broken event")
async def verify(registry: RegistryDep, actor: Reader) -> ChainCheck:
    report = await registry.audit.verify(actor)
    return ChainCheck(
        ok=report.ok, checked=report.checked, broken_at=report.broken_at, reason=report.reason
    )
