"""``modelyard serve --workers 2`` with Redis, on SQLite and on PostgreSQL, as real processes:
calls reach both workers, limits and credits hold across them, a change made through one is
seen by the other, concurrent writes never fail, /metrics answers for the whole server, and
SIGTERM stops every worker. One server per database, shared by the module's tests (the last
test stops it)."""

from __future__ import annotations

import asyncio
import fcntl
import re
import signal
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.deploy import servers
from tests.deploy.site import CALL_CREDITS, PAID_CALLS, PARALLEL, RPM, Site, configure
from tests.deploy.upstream import Upstream

REFRESH_S = 0.5
DRAIN_DELAY_S = 1.0  # each worker stays reachable, saying 503, this long after SIGTERM


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    redis_env: dict[str, str],
    mock_upstream: Upstream,
) -> Iterator[Site]:
    home = tmp_path_factory.mktemp(f"workers-{request.param}")
    if request.param == "sqlite":
        database = f"sqlite+aiosqlite:///{home / 'modelyard.db'}"
    else:
        database = request.getfixturevalue("pg_url")
    env = {
        **redis_env,
        "MODELYARD_REDIS_PREFIX": f"{redis_env['MODELYARD_REDIS_PREFIX']}:{request.param}",
        "MODELYARD_DATABASE_URL": database,
        "MODELYARD_REFRESH_INTERVAL_S": str(REFRESH_S),
        "MODELYARD_LOG_LEVEL": "warning",
        "MODELYARD_METRICS_PUBLIC": "true",
        "MODELYARD_DRAIN_DELAY_S": str(DRAIN_DELAY_S),
    }
    served = servers.start(home, env, workers=2)
    try:
        made = configure(served, mock_upstream)
        time.sleep(4 * REFRESH_S)  # the worker that did not take the changes reloads
        yield made
    finally:
        served.close()


def _model(name: str) -> object:
    return lambda labels: labels.get("model") == name


def _spread(site: Site, model: str, rounds: int = 10, burst: int = 16) -> dict[int, int]:
    """Bursts of calls until both workers have answered some; every call must succeed."""
    sent = 0
    for _ in range(rounds):
        statuses = site.calls(burst, model)
        sent += burst
        assert statuses == [200] * burst, statuses
        counts = site.settled("requests", _model(model), sent)
        if len(counts) == 2 and all(counts.values()):
            return counts
    raise AssertionError(f"after {sent} calls one worker answered them all: {counts}")


def test_calls_are_answered_by_both_workers(site: Site) -> None:
    counts = _spread(site, "mock-1")
    assert len(counts) == 2
    assert min(counts.values()) > 0


def _everything(labels: dict[str, str]) -> bool:
    return True


def _seen(site: Site, total: int | None = None) -> dict[int, int]:
    """Calls each worker has settled, served or refused (``requests`` counts both), once
    they add up to ``total`` (the workers publish their counters once a second)."""
    if total is None:
        return site.per_worker("requests", _everything)
    return site.settled("requests", _everything, total)


def test_an_rpm_limit_admits_exactly_its_value_across_both_workers(site: Site) -> None:
    """Waves of calls with the key until both workers have had some (a burst may go to one
    worker whole), all well within the key's minute: exactly RPM are admitted."""
    time.sleep(1.5)  # the workers' documents are current
    before = _seen(site)
    statuses: list[int] = []
    for _ in range(8):
        statuses += site.calls(RPM // 2, "mock-1", site.rpm_key)
        now = _seen(site, sum(before.values()) + len(statuses))
        both = len(now) == 2 and all(now[pid] > before.get(pid, 0) for pid in now)
        if len(statuses) > RPM and both:
            break
    assert both, (before, now)
    assert statuses.count(200) == RPM, statuses
    assert statuses.count(429) == len(statuses) - RPM, statuses


def test_a_parallel_limit_holds_across_both_workers(site: Site) -> None:
    """Waves of 3 x PARALLEL slow calls until one wave reached both workers: the upstream
    never holds more than PARALLEL of them at once."""
    site.upstream.reset()
    sent, before = 0, site.per_worker("requests", _model("slow-1"))
    for _ in range(5):
        assert site.calls(3 * PARALLEL, "slow-1") == [200] * (3 * PARALLEL)
        sent += 3 * PARALLEL
        after = site.settled("requests", _model("slow-1"), sent)
        if all(after[pid] > before.get(pid, 0) for pid in after):
            break
        before = after
    assert all(after[pid] > before.get(pid, 0) for pid in after), (before, after)
    assert site.upstream.most_at_once == PARALLEL


def test_credits_for_k_calls_admit_at_most_k_across_both_workers(site: Site) -> None:
    statuses = site.calls(3 * PAID_CALLS, "paid-1", site.payer_key, max_tokens=5)
    admitted = statuses.count(200)
    assert 1 <= admitted <= PAID_CALLS, statuses
    assert set(statuses) <= {200, 402}, statuses
    with site.admin() as admin:
        deadline = time.monotonic() + 30
        while True:  # the usage writers debit the ledger off the request path
            balance = admin.get("/api/v1/credits", params={"user_id": site.payer_id}).json()
            spent = CALL_CREDITS * PAID_CALLS - Decimal(balance["balance"])
            if spent == CALL_CREDITS * admitted or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert spent == CALL_CREDITS * admitted, balance
    assert Decimal(balance["balance"]) >= 0


def test_a_model_added_through_one_worker_is_served_by_both(site: Site) -> None:
    with site.admin() as admin:
        added = admin.post(
            "/api/v1/models", json={"provider_id": site.wide_id, "model_id": "late-1"}
        )
        assert added.status_code == 201, added.text
    time.sleep(4 * REFRESH_S)  # the other worker polls the generation every REFRESH_S
    _spread(site, "late-1")


def test_concurrent_writes_through_both_workers_all_succeed(site: Site) -> None:
    """Registry writes and both workers' usage writers at once: on SQLite two processes
    queue on the database's lock (BEGIN IMMEDIATE, a 30 s busy timeout); none fails."""

    async def writes() -> list[int]:
        fresh = httpx.Limits(max_keepalive_connections=0)
        headers = {"Authorization": f"Bearer {site.served.admin_key}"}
        chat = {"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]}
        async with httpx.AsyncClient(
            base_url=site.served.base, limits=fresh, timeout=90, headers=headers
        ) as client:
            users = [
                client.post(
                    "/api/v1/users",
                    json={"email": f"w{i}@example.com", "display_name": "W", "role": "member"},
                )
                for i in range(24)
            ]
            chats = [client.post("/v1/chat/completions", json=chat) for _ in range(24)]
            answers = await asyncio.gather(*users, *chats)
        return [a.status_code for a in answers]

    assert asyncio.run(writes()) == [201] * 24 + [200] * 24


def _total(text: str) -> int:
    return sum(int(v) for v in re.findall(r"^modelyard_requests_total\{[^}]*\} (\d+)$", text, re.M))


def test_metrics_answer_for_the_whole_server(site: Site) -> None:
    time.sleep(1.5)  # past one publication: the documents are the workers' live counters
    expected = sum(site.per_worker("requests", _everything).values())
    assert expected > 0
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=site.served.base, limits=fresh, timeout=60) as client:
        totals = {_total(client.get("/metrics").text) for _ in range(8)}
    assert totals == {expected}, (totals, expected)


def test_each_worker_owns_an_outbox_slot_of_its_own(site: Site) -> None:
    outbox = site.served.home / "modelyard-usage.outbox"
    for slot in (outbox, outbox.with_name(outbox.name + ".1")):
        with slot.open("rb") as file, pytest.raises(BlockingIOError):
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by its worker


def _readiness_until_refused(base: str) -> list[tuple[int, str | None]]:
    """/health/ready on fresh connections until one is refused: (status, draining check)."""
    seen: list[tuple[int, str | None]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}/health/ready", timeout=5)
        except httpx.ConnectError:
            return seen
        seen.append((answer.status_code, answer.json()["checks"].get("draining")))
        time.sleep(0.05)
    raise AssertionError(f"the port never refused a connection: {seen[-3:]}")


def test_sigterm_stops_every_worker_with_status_0(site: Site) -> None:
    """Each worker drains as a single server does: readiness is 503 ``draining`` from the
    signal on, the port is then refused (the parent's copy of the socket is closed too, so
    nothing waits in a backlog nobody accepts from), and every process exits cleanly."""
    pids = set(site.served.worker_states())
    assert len(pids) == 2
    site.served.process.send_signal(signal.SIGTERM)
    seen = _readiness_until_refused(site.served.base)
    draining = [i for i, (status, check) in enumerate(seen) if status == 503 and check]
    assert draining, f"never 503 draining during the drain delay: {seen}"
    # A probe may beat the signal to the worker (it goes through the parent); from the
    # first "draining" on, every answer says so.
    assert draining == list(range(draining[0], len(seen))), seen
    assert draining[0] <= 2, seen
    assert site.served.stop() == 0, site.served.output()
    assert not [pid for pid in pids if servers.alive(pid)]
    assert not site.served.run_dir.exists()
    assert "Traceback" not in site.served.output()
