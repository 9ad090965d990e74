"""GET /console: the dashboard (first cut: the viewer's welcome; charts come next)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from modelyard.api.web.console.access import viewer
from modelyard.api.web.console.render import page

router = APIRouter(include_in_schema=False)


@router.get("/console")
async def dashboard(request: Request) -> Response:
    signed = await viewer(request)
    return page(request, signed, "dashboard.html", {"title": "Dashboard"})
