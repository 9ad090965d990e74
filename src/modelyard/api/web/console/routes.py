"""The console's pages, one router per area, mounted under /console."""

from __future__ import annotations

from fastapi import FastAPI

from modelyard.api.web.console import access, dashboard, provider_actions, providers

ROUTERS = (dashboard.router, providers.router, provider_actions.router)
from modelyard.api.web.console import access, dashboard, infrastructure, models

ROUTERS = (dashboard.router, models.router, infrastructure.router)
from modelyard.api.web.console import (
    access,
    dashboard,
    key_new,
    keys,
    oauth_client_page,
    oauth_clients,
    user_page,
    users,
)

ROUTERS = (
    dashboard.router,
    users.router,
    user_page.router,
    key_new.router,
    keys.router,
    oauth_clients.router,
    oauth_client_page.router,
)
from modelyard.api.web.console import access, credits, dashboard, plans, subscriptions

ROUTERS = (dashboard.router, plans.router, subscriptions.router, credits.router)


def install(app: FastAPI) -> None:
    app.add_exception_handler(access.SignInFirst, access.sign_in_first)
    for router in ROUTERS:
        app.include_router(router)
