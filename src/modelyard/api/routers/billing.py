"""/api/v1/billing: run the renewal job once (admins). The server runs it every minute by
itself; this is for operators who want it now. It is idempotent: a second run grants
nothing twice."""

from __future__ import annotations

from fastapi import APIRouter

from modelyard.api.deps import RegistryDep, Writer
from modelyard.billing import periods

router = APIRouter(prefix="/billing", tags=["billing"])


@router.post("/renew", summary="Renew, end and expire what is due, once, now (admins)")
async def renew(registry: RegistryDep, actor: Writer) -> periods.RenewalView:
    return await periods.renew(registry.db, actor)
