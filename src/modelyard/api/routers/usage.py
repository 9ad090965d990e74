"""/api/v1/usage: recorded gateway usage, totalled by day, user and model."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter

from modelyard.api.deps import Reader, RegistryDep
from modelyard.registry.common import check
from modelyard.registry.usage_report import UsageFilter, UsageTotal

router = APIRouter(prefix="/usage", tags=["usage"])


@router.get("", summary="Usage totals by day, user and model")
async def usage_totals(
    registry: RegistryDep,
    actor: Reader,
    user_id: uuid.UUID | None = None,
    model: str | None = None,
    provider: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[UsageTotal]:
    """Members see their own calls; admins everyone's, or one user's with ``user_id``."""
    filters: UsageFilter = check(
        UsageFilter,
        {"user_id": user_id, "model": model, "provider": provider, "since": since, "until": until},
    )
    return await registry.usage.totals(actor, filters)
