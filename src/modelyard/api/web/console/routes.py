"""The console's pages, one router per area, mounted under /console. Within an area a
fixed path (``/new``) comes before the ``/{id}`` it would otherwise match."""

from __future__ import annotations

from fastapi import FastAPI

from modelyard.api.web.console import (
    access,
    audit,
    credits,
    dashboard,
    infrastructure,
    key_new,
    keys,
    models,
    oauth_client_page,
    oauth_clients,
    plans,
    provider_actions,
    providers,
    subscriptions,
    usage,
    user_page,
    users,
)

ROUTERS = (
    dashboard.router,
    models.router,
    infrastructure.router,
    providers.router,
    provider_actions.router,
    users.router,
    user_page.router,
    key_new.router,
    keys.router,
    oauth_clients.router,
    oauth_client_page.router,
    plans.router,
    subscriptions.router,
    credits.router,
    usage.router,
    audit.router,
)


def install(app: FastAPI) -> None:
    app.add_exception_handler(access.SignInFirst, access.sign_in_first)
    for router in ROUTERS:
        app.include_router(router)
