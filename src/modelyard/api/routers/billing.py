"""/api/v1/billing: run the renewal job once (admins). The server runs it every minute by
itself; this is for operators who want it now. It is idempotent: a second run grants
nothing twice."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from modelyard.api.deps import RegistryDep, Writer
from modelyard.billing import periods
from modelyard.registry.common import Amount

router = APIRouter(prefix="/billing", tags=["billing"])


class RenewalView(BaseModel):
    renewed: list[str] = Field(description="subscriptions renewed into a new period")
    cancelled: list[str] = Field(description="subscriptions cancelled at their period's end")
    expired: list[str] = Field(description="subscriptions expired (suspended or plan retired)")
    written_off: Amount = Field(description="credits left on expired grants, written off")
    grants_expired: int
    holds_dropped: int = Field(description="lapsed credit holds of gateways removed")

    @classmethod
    def of(cls, report: periods.RenewalReport) -> RenewalView:
        return cls(
            renewed=report.renewed,
            cancelled=report.cancelled,
            expired=report.expired,
            written_off=report.written_off,
            grants_expired=report.grants_expired,
            holds_dropped=report.holds_dropped,
        )


@router.post("/renew", summary="Renew, end and expire what is due, once, now (admins)")
async def renew(registry: RegistryDep, actor: Writer) -> RenewalView:
    actor.require_admin("run billing renewals")
    return RenewalView.of(await periods.run_due(registry.db, actor))
