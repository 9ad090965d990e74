"""PostgreSQL and Redis go away under load, with two real replicas (``modelyard serve``) on a
PostgreSQL and a Redis of the test's own: calls keep being served, ``/health/ready`` says what
is wrong meanwhile, and once the services return nothing was lost or counted twice, and
limits are shared again.

The in-process versions (one gateway, its connections cut) are tests/gateway/
test_database_outage.py and test_fault_suite.py; these add separate processes, a database
server really down (restarted, then stopped for a while) and a Redis really killed.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.deploy.outage_rig import (
    Postgres,
    Redis,
    Replica,
    own_postgres,
    own_redis,
    two_replicas,
    wait_until,
)
from tests.support.mock_openai import GOOD_KEY, MockOpenAI, mock_openai

STEADY, CAPPED = "steady-model", "capped-model"
RPM = 6  # the capped provider's requests per minute
WORKERS = 3  # concurrent callers of the steady load
BACKLOG = 5  # usage rows waiting beyond which readiness says the usage check is degraded


@dataclass
class Site:
    pg: Postgres
    redis: Redis
    replicas: list[Replica]
    key: str
    upstream: MockOpenAI


def _configure(replica: Replica, key: str, upstream: MockOpenAI) -> None:
    """Two OpenAI-compatible providers on the mock upstream: one whose every call goes
    through Redis (a huge rpm limit, a parallel limit), one with a small rpm limit."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=replica.base, headers=headers, timeout=30) as http:
        for name, model, limits in (
            ("steady", STEADY, {"rpm_limit": 1_000_000, "max_parallel": 50}),
            ("capped", CAPPED, {"rpm_limit": RPM}),
        ):
            body = {"name": name, "kind": "openai", "base_url": upstream.url}
            made = http.post("/api/v1/providers", json=body | {"api_key": GOOD_KEY} | limits)
            assert made.status_code == 201, made.text
            model_body = {"provider_id": made.json()["id"], "model_id": model}
            added = http.post("/api/v1/models", json=model_body)
            assert added.status_code == 201, added.text


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with own_postgres() as pg, own_redis() as redis, mock_openai() as upstream:
        env = {
            "MODELYARD_DATABASE_URL": pg.url,
            "MODELYARD_REDIS_URL": redis.url,
            "MODELYARD_REDIS_PREFIX": "outage",
            "MODELYARD_READY_USAGE_BACKLOG": str(BACKLOG),
        }
        with two_replicas(env) as (replicas, key):
            _configure(replicas[0], key, upstream)
            for replica in replicas:  # each one has loaded the providers
                wait_until(f"{replica.name} to serve", lambda r=replica: _call(r, key) == 200)
            yield Site(pg, redis, replicas, key, upstream)
        for replica in replicas:
            text = replica.output
            assert "Traceback" not in text, text
            assert text.count(key) == (replica is replicas[0])  # shown once, at bootstrap
            assert GOOD_KEY not in text


def _call(replica: Replica, key: str, model: str = STEADY) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    answer = httpx.post(
        f"{replica.base}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    return answer.status_code


@dataclass
class Load:
    """Steady /v1 calls to the replicas in turn, each with its own ``x-request-id`` (kept as
    the usage row's ``client_request_id``)."""

    site: Site
    calls: list[tuple[str, int, str]] = field(default_factory=list)  # replica, status, id
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    turn: Iterator[int] = field(default_factory=itertools.count)

    async def worker(self, http: httpx.AsyncClient) -> None:
        body = {"model": STEADY, "messages": [{"role": "user", "content": "hi"}]}
        while not self.stop.is_set():
            replica = self.site.replicas[next(self.turn) % len(self.site.replicas)]
            call_id = uuid.uuid4().hex
            headers = {"Authorization": f"Bearer {self.site.key}", "x-request-id": call_id}
            answer = await http.post(
                f"{replica.base}/v1/chat/completions", json=body, headers=headers
            )
            self.calls.append((replica.name, answer.status_code, call_id))
            await asyncio.sleep(0.01)

    @property
    def served(self) -> int:
        return sum(1 for _, status, _ in self.calls if status == 200)

    async def until_served(self, more: int) -> None:
        """Let ``more`` further calls be served (a count, not a duration)."""
        goal = self.served + more
        for _ in range(60_000):  # a guard against a hang, not a measure
            if self.served >= goal:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"served {self.served} of {goal}: {Counter(self.calls)}")


async def _ready(replica: Replica) -> dict[str, Any]:
    return await asyncio.to_thread(replica.ready)


async def _until(
    replicas: list[Replica], what: str, test: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Poll each replica's readiness until ``test`` holds for it; its last answers."""
    last: list[dict[str, Any]] = []
    for replica in replicas:
        for _ in range(3000):  # a guard against a hang, not a measure
            body = await _ready(replica)
            if test(body):
                last.append(body)
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"{replica.name} never {what}: {body}")
    return last


def _usage_rows(pg: Postgres) -> dict[str, tuple[int, str]]:
    """client request id -> (rows, status) of every usage row the load made."""
    text = pg.sql(
        "SELECT client_request_id, count(*), min(status) FROM usage_events "
        "WHERE client_request_id IS NOT NULL GROUP BY client_request_id"
    )
    found: dict[str, tuple[int, str]] = {}
    for line in filter(None, text.splitlines()):
        call_id, count, status = line.split("|")
        found[call_id] = (int(count), status)
    return found


async def test_postgres_restart_and_outage_serve_calls_and_lose_no_usage(site: Site) -> None:
    load = Load(site)
    async with httpx.AsyncClient(timeout=30) as http:
        tasks = [asyncio.create_task(load.worker(http)) for _ in range(WORKERS)]
        try:
            await load.until_served(10)
            await asyncio.to_thread(site.pg.restart)  # every connection cut at once
            await load.until_served(10)

            await asyncio.to_thread(site.pg.stop)
            down = await _until(
                site.replicas,
                "said the database was away",
                lambda b: b["checks"]["database"] != "ok",
            )
            await load.until_served(100)  # served with the database down
            parked = await _until(
                site.replicas,
                "reported its usage backlog",
                lambda b: b["details"]["usage"]["outbox"] > BACKLOG,
            )
            admin = await http.get(
                f"{site.replicas[1].base}/api/v1/providers",
                headers={"Authorization": f"Bearer {site.key}"},
            )
            await asyncio.to_thread(site.pg.start)

            back = await _until(
                site.replicas, "became ready again", lambda b: b["status"] == "ready"
            )
            await load.until_served(10)
        finally:
            load.stop.set()
            await asyncio.gather(*tasks)
    settled = await _until(
        site.replicas,
        "wrote its backlog",
        lambda b: b["details"]["usage"]["waiting"] == 0 and b["status"] == "ready",
    )

    for body in down:  # degraded, not out of the load balancer: /v1 is served
        assert body["http_status"] == 200, body
        assert body["status"] == "degraded"
        assert body["checks"]["database"].startswith("unreachable")
        assert "database" in body["degraded"]
        assert body["failing"] == []
    assert admin.status_code == 503  # the admin API needs the database: a clear answer
    assert admin.json()["error"]["code"] == "DEPENDENCY_UNAVAILABLE"
    for body in parked:
        assert body["http_status"] == 200, body
        assert "usage" in body["degraded"]
        assert body["details"]["usage"]["oldest_s"] is not None
    assert all(b["http_status"] == 200 and b["failing"] == [] for b in back + settled)

    statuses = Counter(status for _, status, _ in load.calls)
    assert set(statuses) == {200}, statuses
    rows = _usage_rows(site.pg)
    made = {call_id for _, _, call_id in load.calls}
    assert {call_id: rows.get(call_id) for call_id in made} == dict.fromkeys(made, (1, "ok"))
    assert {replica for replica, _, _ in load.calls} == {"a", "b"}


async def test_redis_loss_falls_back_per_replica_and_shares_again(site: Site) -> None:
    shared = await _until(site.replicas, "shared limits", lambda b: "redis" in b["checks"])
    assert [b["details"]["redis"]["limits"] for b in shared] == ["shared", "shared"]
    load = Load(site)
    async with httpx.AsyncClient(timeout=30) as http:
        tasks = [asyncio.create_task(load.worker(http)) for _ in range(WORKERS)]
        try:
            await load.until_served(10)
            await asyncio.to_thread(site.redis.kill)
            await load.until_served(10)
            down = await _until(
                site.replicas, "said Redis was away", lambda b: b["checks"]["redis"] != "ok"
            )
            alone = await asyncio.to_thread(_capped_round, site, 3 * RPM)

            await asyncio.to_thread(site.redis.start)  # empty: its windows start afresh
            back = await _until(
                site.replicas, "shared limits again", lambda b: b["checks"]["redis"] == "ok"
            )
            together = await asyncio.to_thread(_capped_round, site, 3 * RPM)
            await load.until_served(10)
        finally:
            load.stop.set()
            await asyncio.gather(*tasks)

    for body in down:
        assert body["http_status"] == 200, body
        assert body["status"] == "degraded"
        assert "redis" in body["degraded"]
        assert body["failing"] == []
        assert body["details"]["redis"] == {"reachable": False, "limits": "per replica"}
    assert all(b["details"]["redis"]["limits"] == "shared" for b in back)
    # Per replica while Redis was away: each one admitted its own RPM; shared again: RPM.
    assert alone == {"a": RPM, "b": RPM}
    assert sum(together.values()) == RPM
    assert set(Counter(status for _, status, _ in load.calls)) == {200}


def _capped_round(site: Site, calls: int) -> dict[str, int]:
    """``calls`` calls of the capped model to the replicas in turn: how many each served
    (the others must be 429s)."""
    served: Counter[str] = Counter({r.name: 0 for r in site.replicas})
    for n in range(calls):
        replica = site.replicas[n % len(site.replicas)]
        status = _call(replica, site.key, CAPPED)
        assert status in (200, 429), status
        served[replica.name] += status == 200
    return dict(served)
