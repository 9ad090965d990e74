"""The app factory. The registry is opened in the lifespan unless one is handed in (tests,
in-process use); nothing is read from the environment here but through :class:`Settings`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from modelyard import __version__
from modelyard.api import errors
from modelyard.api.routers import (
    audit,
    billing,
    credits,
    health,
    keys,
    models,
    overview,
    plans,
    providers,
    settings,
    subscriptions,
    usage,
    users,
)
from modelyard.api.v1 import GatewayRoutes
from modelyard.gateway.service import make_gateway
from modelyard.registry import Registry
from modelyard.settings import Settings

API_PREFIX = "/api/v1"


def create_app(config: Settings | None = None, *, registry: Registry | None = None) -> FastAPI:
    config = config or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = registry is None
        app.state.registry = registry or Registry.open(config)
        app.state.gateway = make_gateway(app.state.registry.db, config)
        await app.state.gateway.start()
        try:
            yield
        finally:
            await app.state.gateway.stop()
            if owned:
                await app.state.registry.close()

    app = FastAPI(
        title="modelyard",
        version=__version__,
        summary="One registry for LLM providers, models, keys and prices.",
        lifespan=lifespan,
    )
    app.state.settings = config
    if registry is not None:
        app.state.registry = registry
    errors.install(app)
    app.add_middleware(GatewayRoutes)
    app.include_router(health.router)
    for module in (providers, overview, models, settings, users, keys, audit, usage):
        app.include_router(module.router, prefix=API_PREFIX)
    for module in (plans, subscriptions, credits, billing):
        app.include_router(module.router, prefix=API_PREFIX)
    return app
