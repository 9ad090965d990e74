"""Liveness, readiness and the Prometheus metrics (not for the world: a token or an admin's
key, unless ``MODELYARD_METRICS_PUBLIC``)."""

from __future__ import annotations

import asyncio
import functools
import hmac
import math
import os
import time
from collections.abc import Awaitable, Callable

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard import __version__
from modelyard.api.deps import RegistryDep, get_registry
from modelyard.api.responses import JSONBody
from modelyard.db.migrate import head_revision, revisions
from modelyard.errors import Forbidden, Unauthenticated
from modelyard.gateway.health import Check, draining, gateway_checks, verdict
from modelyard.gateway.service import Gateway
from modelyard.registry.apikeys import TOKEN_PREFIX
from modelyard.settings import Settings

router = APIRouter(tags=["health"])
PROBE_EVERY_S = 0.5  # a burst of readiness polls shares one probe of the database and Redis
# A database slower than this to answer SELECT is as good as away; below Kubernetes' default
# probe timeout of 1 s, so that a slow database reads as degraded rather than as a dead probe.
DATABASE_TIMEOUT_S = 0.8
_head = functools.cache(head_revision)  # parses every migration script: once per process
_known = functools.cache(lambda: frozenset(revisions()))


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, object]:
    """Nothing but the process: which one answered (``pid``, with several workers) and its
    version. Readiness is ``/health/ready``."""
    return {"status": "ok", "pid": os.getpid(), "version": __version__}


@router.get("/metrics", summary="Prometheus metrics of the gateway", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text, for ``MODELYARD_METRICS_TOKEN`` or an admin's API key as a bearer
    token (or for anyone when ``MODELYARD_METRICS_PUBLIC`` is on)."""
    await _may_read_metrics(request)
    gateway = getattr(request.app.state, "gateway", None)
    shared = getattr(request.app.state, "shared_metrics", None)
    text = ""
    if shared is not None:  # one of several workers: answer for all of them
        text = shared.render()
    elif gateway is not None:
        text = gateway.metrics.render(usage_pending=gateway.recorder.pending())
    return Response(text, media_type="text/plain; version=0.0.4")


async def _may_read_metrics(request: Request) -> None:
    settings: Settings = request.app.state.settings
    if settings.metrics_public:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(
            "send MODELYARD_METRICS_TOKEN or an admin's API key as 'Authorization: Bearer ...'"
        )
    expected = settings.metrics_token
    if expected is not None and hmac.compare_digest(
        token.encode(), expected.get_secret_value().encode()
    ):
        return
    if not token.startswith(TOKEN_PREFIX):
        raise Unauthenticated("invalid metrics token")
    gateway = getattr(request.app.state, "gateway", None)
    if gateway is not None and gateway.holder.ready:  # from memory: works with the db down
        is_admin = gateway.snapshot().authenticate(token, gateway.clock()).role == "admin"
    else:
        is_admin = (await get_registry(request).keys.authenticate(token)).is_admin
    if not is_admin:
        raise Forbidden("/metrics is for admins and the metrics token")


@router.get(
    "/health/ready",
    summary="Readiness: what this replica can serve, check by check",
    responses={
        200: {"description": "`ready`, or `degraded`: calls are served, `degraded` says how"},
        503: {"description": "`not ready` or `draining`: `failing` names the checks"},
    },
)
async def ready(registry: RegistryDep, request: Request) -> JSONBody:
    """Each check is ``ok``, degraded (200: calls are served, from the snapshot or with
    limits per replica) or failing (503: a load balancer should stop sending). The database
    and Redis are probed at most once per :data:`PROBE_EVERY_S`, whoever asks."""
    settings: Settings = request.app.state.settings
    gateway: Gateway | None = getattr(request.app.state, "gateway", None)
    probes: Probes | None = getattr(request.app.state, "health_probes", None)
    if probes is None:
        probes = request.app.state.health_probes = Probes()

    async def probe() -> list[Check]:  # the database and Redis at once: 0.8 s at worst
        if gateway is None:
            return await database_checks(registry.db.engine, served=False)
        database, others = await asyncio.gather(
            database_checks(registry.db.engine, served=gateway.holder.ready),
            gateway_checks(
                gateway, backlog_limit=settings.ready_usage_backlog, stale_s=settings.ready_stale_s
            ),
        )
        return database + others

    checks = await probes.checks(probe)
    if gateway is not None and gateway.draining:  # never from the cache: it turns at once
        checks = [draining(), *checks]
    status, code = verdict(checks)
    body: dict[str, object] = {
        "status": status,
        "checks": {c.name: c.message for c in checks},
        "failing": [c.name for c in checks if c.state == "failed"],
        "degraded": [c.name for c in checks if c.state == "degraded"],
    }
    details = {c.name: c.facts for c in checks if c.facts and c.name != "secrets"}
    if details:
        body["details"] = details
    for check in checks:
        if check.name == "secrets" and check.facts:
            body["unreadable_secrets"] = check.facts["unreadable"]
    return JSONBody(body, status_code=code)


class Probes:
    """The last checks, kept for :data:`PROBE_EVERY_S`; one probe at a time (the callers
    that arrive meanwhile share its answer)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._at = -math.inf
        self._checks: list[Check] = []

    async def checks(self, probe: Callable[[], Awaitable[list[Check]]]) -> list[Check]:
        async with self._lock:
            if time.monotonic() - self._at >= PROBE_EVERY_S:
                self._checks = await probe()
                self._at = time.monotonic()
            return self._checks


async def database_checks(engine: AsyncEngine, *, served: bool) -> list[Check]:
    """Reachable, and its schema at this version's head. Unreachable is only degraded while
    a snapshot ``served`` /v1 (valid keys keep working, usage waits in the outbox); a schema
    behind this version's head fails (this version's queries may not match it), one ahead
    of it (a newer version's, mid rolling upgrade) is only degraded."""
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_S), engine.connect() as conn:
            revision = await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
        if served:
            message = f"unreachable ({reason}): /v1 serves from the last snapshot"
            return [Check("database", "degraded", message)]
        return [Check("database", "failed", f"unreachable: {reason}")]
    head = _head()
    if revision == head:
        return [Check("database", "ok"), Check("migrations", "ok")]
    if revision is not None and revision not in _known():
        # A newer version migrated it: a rolling upgrade under way. Its migrations only add
        # (docs/deployment.md, "Upgrade and rollback"), so this replica keeps serving until
        # it is replaced; taking every old replica out at once would stop the service.
        message = f"at {revision}, newer than this version's {head}: replace this replica"
        return [Check("database", "ok"), Check("migrations", "degraded", message)]
    message = f"at {revision}; this version expects {head} (`modelyard init` upgrades it)"
    return [Check("database", "ok"), Check("migrations", "failed", message)]
