"""The app factory. The registry is opened in the lifespan unless one is handed in (tests,
in-process use); nothing is read from the environment here but through :class:`Settings`."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI

from modelyard import __version__
from modelyard.api import body_timeout, errors, openapi
from modelyard.api.deps import storable_params
from modelyard.api.graphql import routes as graphql
from modelyard.api.oauth import routes as oauth
from modelyard.api.openai import handler as v1
from modelyard.api.openai import spec as v1_spec
from modelyard.api.routers import (
    audit,
    billing,
    credits,
    health,
    keys,
    models,
    oauth_clients,
    overview,
    plans,
    providers,
    settings,
    subscriptions,
    transfer,
    usage,
    users,
)
from modelyard.api.web import routes as web
from modelyard.gateway.metrics_shared import SharedMetrics
from modelyard.gateway.service import make_gateway
from modelyard.services import Registry
from modelyard.settings import Settings
from modelyard.telemetry.setup import tracing_from

if TYPE_CHECKING:
    from modelyard.telemetry.tracing import Tracing

API_PREFIX = "/api/v1"
UNTRACED = ("/health", "/ready", "/metrics")  # probes and scrapes: a span each is noise


class ModelyardApp(FastAPI):
    """FastAPI for the admin API; ``/v1/...`` goes straight to the gateway's lean ASGI
    handler, ahead of every middleware (they cost the hot path, which needs none of them).
    The admin API's request bodies are read under a deadline (``api/body_timeout.py``)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            if scope["path"].startswith("/v1/"):
                scope["app"] = self
                await v1.serve(self, scope, receive, send)
                return
            timeout_s = self.state.settings.body_timeout_s
            app = partial(body_timeout.serve, super().__call__, timeout_s)
            tracing: Tracing | None = getattr(self.state, "tracing", None)
            if tracing is None or scope["path"].startswith(UNTRACED):
                await app(scope, receive, send)
            else:  # renamed "{method} {route}" once routed
                await tracing.serve(app, scope["method"], scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    config: Settings | None = None,
    *,
    registry: Registry | None = None,
    server: bool = False,
    tracing: Tracing | None = None,
    shared_metrics: Path | None = None,
) -> FastAPI:
    """``server``: this app is the process (``modelyard serve``), not a guest in someone
    else's, so it may tune the process: once started, everything loaded so far (modules,
    the app, the first snapshot) is moved out of the garbage collector's sight with
    ``gc.freeze()``. Full collections then scan only what requests create; measured, they
    had cost ~0.02 ms per call and pauses of a few hundred milliseconds.
    ``tracing``: spans go there (tests); else to ``MODELYARD_OTEL_ENDPOINT`` when it is set,
    flushed and stopped with the app.

    ``shared_metrics``: this app is one of several workers of a server, which publish their
    counters in that directory so that ``/metrics`` answers for all of them
    (``gateway/metrics_shared.py``)."""
    config = config or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = registry is None
        traces = tracing_from(config) if tracing is None else tracing
        app.state.tracing = traces
        app.state.registry = registry or Registry.open(config)
        gateway = app.state.gateway = make_gateway(app.state.registry.db, config, traces)
        await gateway.start()
        shared = None
        if shared_metrics is not None:
            shared = SharedMetrics(shared_metrics, gateway.metrics, gateway.recorder.pending)
            await shared.start()
            app.state.shared_metrics = shared
        if server:
            gc.freeze()
        try:
            yield
        finally:
            try:
                if shared is not None:
                    await shared.stop()
                await gateway.stop()
                if owned:
                    await app.state.registry.close()
            finally:
                if traces is not None and tracing is None:  # the spans still queued leave
                    await asyncio.to_thread(traces.close)

    app = ModelyardApp(
        title="modelyard",
        version=__version__,
        summary="One registry for LLM providers, models, keys and prices.",
        lifespan=lifespan,
    )
    app.state.settings = config
    if registry is not None:
        app.state.registry = registry
    errors.install(app)
    openapi.install(app, API_PREFIX)
    app.include_router(health.router)
    checked = [Depends(storable_params)]
    for module in (providers, overview, models, settings, users, keys, audit, usage):
        app.include_router(module.router, prefix=API_PREFIX, dependencies=checked)
    for module in (plans, subscriptions, credits, billing):
        app.include_router(module.router, prefix=API_PREFIX, dependencies=checked)
    app.include_router(transfer.router, prefix=API_PREFIX, dependencies=checked)
    app.include_router(oauth_clients.router, prefix=API_PREFIX, dependencies=checked)
    web.install(app)  # sign-in and account pages
    oauth.install(app)  # the OAuth 2 / OpenID Connect authorization server
    graphql.install(app)  # /graphql and GraphiQL, over the same services as the REST API
    v1_spec.install(app)  # last: it wraps whatever builds the OpenAPI document
    return app
