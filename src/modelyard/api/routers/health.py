"""Liveness, readiness and the Prometheus metrics (not for the world: a token or an admin's
key, unless ``MODELYARD_METRICS_PUBLIC``)."""

from __future__ import annotations

import hmac
import os

from fastapi import APIRouter, Request, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from modelyard.api.deps import RegistryDep, get_registry
from modelyard.api.responses import JSONBody
from modelyard.db.migrate import current_revision, head_revision
from modelyard.errors import Forbidden, Unauthenticated
from modelyard.gateway.snapshot import Snapshot
from modelyard.registry.apikeys import TOKEN_PREFIX
from modelyard.settings import Settings

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, object]:
    """``pid``: which worker process answered (``modelyard serve --workers N``)."""
    return {"status": "ok", "pid": os.getpid()}


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
    summary="Readiness: database reachable, schema at head, every provider key opens",
    responses={503: {"description": "Not ready: `checks` says which check failed"}},
)
async def ready(registry: RegistryDep, request: Request) -> JSONBody:
    checks: dict[str, object] = {}
    body: dict[str, object] = {}
    try:
        async with registry.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        revision = await current_revision(registry.db.engine)
        head = head_revision()
        checks["migrations"] = "ok" if revision == head else f"at {revision}, head is {head}"
    except (SQLAlchemyError, OSError) as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    gateway = getattr(request.app.state, "gateway", None)
    if gateway is not None:
        checks["gateway"] = "ok" if gateway.holder.ready else "configuration not loaded yet"
        if gateway.holder.ready:
            checks["secrets"], unreadable = _secrets(gateway.holder.get())
            if unreadable:
                body["unreadable_secrets"] = unreadable
    ok = all(v == "ok" for v in checks.values()) and "migrations" in checks
    return JSONBody(
        {"status": "ready" if ok else "not ready", "checks": checks} | body,
        status_code=200 if ok else 503,
    )


def _secrets(snapshot: Snapshot) -> tuple[str, list[dict[str, str]]]:
    """Whether every provider key opens on this server; else how many do not, and which:
    system providers by name, members' by id (this endpoint answers anyone, and a member's
    names are their own), with the reason (the master key id needed; never key material)."""
    found = [
        {"provider": u.name, "owner": "system", "reason": u.reason}
        if u.owner is None
        else {"provider_id": str(pid), "owner": "member", "reason": u.reason}
        for pid, u in sorted(
            snapshot.unreadable.items(), key=lambda kv: (kv[1].owner is not None, kv[1].name)
        )
    ]
    if not found:
        return "ok", []
    return f"{len(found)} provider key(s) cannot be opened by this server", found
