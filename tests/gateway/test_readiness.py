"""``/health`` and ``/health/ready`` on a running gateway: each check, the rule that makes
200 or 503, and what a check says when a part is away. Several processes with a database and
a Redis that really go away: tests/deploy/test_faults_outages.py."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

import modelyard.gateway.refresh
from modelyard import __version__
from modelyard.api.app import create_app
from modelyard.api.routers.health import DATABASE_TIMEOUT_S, database_checks
from modelyard.db.engine import create_engine
from modelyard.db.migrate import head_revision
from modelyard.gateway.health import Check, usage, verdict
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from modelyard.usage.recorder import Backlog
from tests.gateway.server import running


async def _ready(url: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{url}/health/ready")
    return answer.status_code, answer.json()


async def test_liveness_names_the_process_and_readiness_every_check(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Path
) -> None:
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    async with running(local, registry) as (url, app), httpx.AsyncClient() as http:
        live = (await http.get(f"{url}/health")).json()
        code, body = await _ready(url)
        app.state.gateway.draining = True  # what SIGTERM does: 503 at once, never cached
        drained_code, drained = await _ready(url)
        app.state.gateway.draining = False
    assert live == {"status": "ok", "pid": os.getpid(), "version": __version__}
    assert code == 200
    assert body["status"] == "ready"
    assert set(body["checks"]) == {
        "database",
        "migrations",
        "gateway",
        "secrets",
        "configuration",
        "usage",
    }  # no Redis configured: no redis check
    assert set(body["checks"].values()) == {"ok"}
    assert body["failing"] == body["degraded"] == []
    generation = await registry.generation()
    served = body["details"]["configuration"]
    assert served["generation"] == served["database_generation"] == generation
    assert body["details"]["usage"] == {"waiting": 0, "in_memory": 0, "outbox": 0, "oldest_s": None}
    assert drained_code == 503
    assert drained["status"] == "draining"
    assert drained["failing"] == ["draining"]


async def test_a_configuration_it_cannot_load_fails_readiness_until_it_loads(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The replica sees the database move on but cannot build the new snapshot: it keeps
    serving the last one (a revoked key would still work here), so after ``ready_stale_s``
    the load balancer must stop sending to it."""
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox", "ready_stale_s": 0.05})
    real_load = modelyard.gateway.refresh.load

    async def broken(_db: Any) -> Any:
        raise RuntimeError("a snapshot that cannot be built")

    async with running(local, registry) as (url, _app):
        monkeypatch.setattr(modelyard.gateway.refresh, "load", broken)
        await registry.providers.create(admin, {"name": "later", "kind": "fake"})
        for _ in range(3000):  # a guard against a hang, not a measure
            code, body = await _ready(url)
            if code == 503:
                break
            await asyncio.sleep(0.01)
        monkeypatch.setattr(modelyard.gateway.refresh, "load", real_load)
        for _ in range(3000):
            healed, _ = await _ready(url)
            if healed == 200:
                break
            await asyncio.sleep(0.01)
    assert code == 503
    assert body["failing"] == ["configuration"]
    facts = body["details"]["configuration"]
    assert facts["database_generation"] == facts["generation"] + 1
    assert body["checks"]["configuration"].startswith(f"serving generation {facts['generation']}")
    assert healed == 200


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 that refuses connections (bound, never listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_redis_away_is_degraded_not_unready(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Path, closed_port: int
) -> None:
    local = settings.model_copy(
        update={
            "usage_outbox": tmp_path / "outbox",
            "redis_url": f"redis://:hunter2secret@127.0.0.1:{closed_port}/0",
        }
    )
    async with running(local, registry) as (url, _app):
        code, body = await _ready(url)
    assert code == 200
    assert body["status"] == "degraded"
    assert body["degraded"] == ["redis"]
    assert body["checks"]["redis"].startswith("unreachable (ConnectionError)")
    assert body["details"]["redis"] == {"reachable": False, "limits": "per replica"}
    assert "hunter2secret" not in str(body)
    assert str(closed_port) not in str(body)


async def test_redis_back_reports_limits_per_replica_until_the_limiter_retries(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Path,
    redis_url: str,
    redis_prefix: str,
) -> None:
    local = settings.model_copy(
        update={
            "usage_outbox": tmp_path / "outbox",
            "redis_url": redis_url,
            "redis_prefix": redis_prefix,
        }
    )
    async with running(local, registry) as (url, app):
        _, shared = await _ready(url)
        app.state.gateway.limiter.unreachable(ConnectionError("gone a moment"))
        app.state.health_probes = None  # not the answer cached a moment ago
        code, alone = await _ready(url)
    assert shared["checks"]["redis"] == "ok"
    assert shared["details"]["redis"] == {"reachable": True, "limits": "shared"}
    assert code == 200
    assert alone["degraded"] == ["redis"]
    assert alone["checks"]["redis"].startswith("answers again; limits are per replica for")
    assert alone["details"]["redis"] == {"reachable": True, "limits": "per replica"}


async def test_database_away_without_a_gateway_is_not_ready(
    tmp_path: Path, closed_port: int
) -> None:
    """The admin API alone (no snapshot to serve from) cannot work without its database."""
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port}/none",
        master_key_file=tmp_path / "key",
    )
    registry = Registry.open(settings)
    try:
        app = create_app(settings, registry=registry)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            answer = await http.get("/health/ready")
    finally:
        await registry.close()
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not ready"
    assert body["failing"] == ["database"]
    assert body["checks"]["database"].startswith("unreachable: ")
    assert str(closed_port) not in answer.text


@pytest.mark.parametrize(
    ("memory", "outbox", "state"), [(0, 0, "ok"), (3, 2, "ok"), (3, 3, "degraded")]
)
def test_usage_backlog_over_the_limit_is_degraded(memory: int, outbox: int, state: str) -> None:
    now = datetime.now(UTC)
    check = usage(Backlog(memory, outbox, now - timedelta(seconds=90)), now, limit=5)
    assert check.state == state
    assert check.facts == {
        "waiting": memory + outbox,
        "in_memory": memory,
        "outbox": outbox,
        "oldest_s": 90.0,
    }
    if state == "degraded":
        assert check.message == "6 usage rows wait for the database (over 5)"


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([], ("ready", 200)),
        (["ok", "degraded"], ("degraded", 200)),
        (["degraded", "failed"], ("not ready", 503)),
    ],
)
def test_any_failed_check_is_503_and_degraded_is_200(
    states: list[Any], expected: tuple[str, int]
) -> None:
    assert verdict([Check(f"c{n}", s) for n, s in enumerate(states)]) == expected
    assert verdict([Check("draining", "failed"), *[Check("x", s) for s in states]]) == (
        "draining",
        503,
    )


async def test_a_schema_behind_fails_and_one_ahead_is_only_degraded(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Path
) -> None:
    """Mid rolling upgrade the first new replica migrates forward: the old replicas must
    keep serving (degraded, 200), or the load balancer would take them all out at once. A
    schema behind this version's head is another matter: 503 until it is upgraded."""
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    head = head_revision()

    async def stamp(revision: str) -> None:
        async with registry.db.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})

    seen: dict[str, tuple[int, dict[str, Any]]] = {}
    async with running(local, registry) as (url, _app):
        try:
            for name, revision in (("ahead", "9999_from_a_newer_version"), ("behind", "0001")):
                await stamp(revision)
                await asyncio.sleep(0.6)  # past the shared probe's half second
                seen[name] = await _ready(url)
        finally:
            await stamp(head)
    code, body = seen["ahead"]
    assert code == 200, body
    assert body["status"] == "degraded"
    assert body["degraded"] == ["migrations"]
    assert "newer than this version's" in body["checks"]["migrations"]
    code, body = seen["behind"]
    assert code == 503, body
    assert body["failing"] == ["migrations"]
    assert body["checks"]["migrations"].startswith("at 0001;")


@pytest.mark.parametrize("served", [True, False])
async def test_a_database_that_never_answers_is_reported_within_the_probe_timeout(
    served: bool,
) -> None:
    """A database that accepts and stays silent (a stuck server, a full pool upstream) is
    unreachable after DATABASE_TIMEOUT_S, below Kubernetes' 1 s probe timeout: degraded
    while /v1 has a snapshot to serve from, failed otherwise."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = create_engine(f"postgresql+asyncpg://modelyard@127.0.0.1:{port}/silent")
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        checks = await database_checks(engine, served=served)
        assert loop.time() - started >= DATABASE_TIMEOUT_S * 0.9  # it did wait for an answer
        assert accepted  # connected, then nothing came back
        [check] = checks
        assert (check.name, check.state) == ("database", "degraded" if served else "failed")
        assert "no answer" in check.message
    finally:
        await engine.dispose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert DATABASE_TIMEOUT_S < 1.0
