"""The console's pages, one router per area, mounted under /console."""

from __future__ import annotations

from fastapi import FastAPI

from modelyard.api.web.console import access, audit, dashboard

ROUTERS = (
    dashboard.router,
    audit.router,
)


def install(app: FastAPI) -> None:
    app.add_exception_handler(access.SignInFirst, access.sign_in_first)
    for router in ROUTERS:
        app.include_router(router)
