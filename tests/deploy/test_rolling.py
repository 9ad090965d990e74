"""A rolling restart under steady load: two ``modelyard serve`` replicas on one PostgreSQL and
Redis behind a round-robin balancer (:mod:`tests.support.balancer`, nginx's defaults);
replica A is stopped (SIGTERM, exit 0), started again and back in rotation, then B. Clients
call without pause throughout, JSON and streams alternately, each call taking a while at
the upstream. Not one request may fail (every answer 200, every stream to its ``[DONE]``)
and not one usage row may be lost (every request id a client got back has its row)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.deploy.drain_rig import (
    Replica,
    ask,
    holds_left,
    paying_caller,
    slow_upstream,
    usage_rows,
)
from tests.gateway.conftest import redis_prefix, redis_run, redis_url  # noqa: F401 (fixtures)
from tests.support.balancer import Balancer

CLIENTS = 4  # calls in flight at any time
JSON = ask("json 0.1")  # 0.1 s at the upstream
STREAM = ask("stream 5 0.05", stream=True)  # five words, 0.05 s apart
CALLS_BETWEEN = 20  # calls served between two restarts, for the load to be steady
STOP_WITHIN_S = 60.0  # a guard for two busy cores, not a measure

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@dataclass
class Load:
    """``CLIENTS`` callers, each calling again as soon as its call ended."""

    url: str
    key: str
    ids: list[str] = field(default_factory=list)  # request ids of the calls answered
    failures: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _one(self, http: aiohttp.ClientSession, body: dict[str, object]) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        try:
            async with http.post("/v1/chat/completions", json=body, headers=headers) as answer:
                text = (await answer.read()).decode()
                whole = (
                    text.endswith("data: [DONE]\n\n") if body.get("stream") else '"done"' in text
                )
                if answer.status != 200 or not whole:
                    self.failures.append(f"{answer.status} {text[-300:]}")
                    return
                self.ids.append(answer.headers["x-request-id"])
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")

    async def client(self, n: int) -> None:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(base_url=self.url, timeout=timeout) as http:
            for turn in itertools.count(n):
                if self.stop.is_set():
                    return
                await self._one(http, STREAM if turn % 2 else JSON)

    async def answered(self, more: int) -> None:
        """Wait until ``more`` calls more were answered (or one failed)."""
        wanted = len(self.ids) + more
        async with asyncio.timeout(STOP_WITHIN_S):  # a guard against a stalled load
            while len(self.ids) < wanted and not self.failures:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert not self.failures, self.failures[:5]


async def test_a_rolling_restart_under_load_fails_no_call_and_loses_no_usage(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    redis_url: str,  # noqa: F811
    redis_prefix: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = {
        "MODELYARD_REDIS_URL": redis_url,
        "MODELYARD_REDIS_PREFIX": redis_prefix,
        "MODELYARD_DRAIN_DELAY_S": "2",  # many readiness checks of the balancer
        "MODELYARD_DRAIN_TIMEOUT_S": "10",
    }
    async with slow_upstream() as upstream:
        caller = await paying_caller(registry, admin, upstream.url)
        replicas = [Replica(name, settings, tmp_path, **env) for name in ("a", "b")]
        for replica in replicas:
            replica.start()
        try:
            await asyncio.gather(*(r.ready() for r in replicas))
            balancer = Balancer([r.url for r in replicas])
            async with balancer.running():
                await balancer.until_up()
                load = Load(balancer.url, caller.key)
                clients = [asyncio.create_task(load.client(n)) for n in range(CLIENTS)]
                try:
                    await load.answered(CALLS_BETWEEN)
                    for replica, backend in zip(replicas, balancer.backends, strict=True):
                        replica.terminate()
                        assert await replica.exited(STOP_WITHIN_S) == 0, replica.text()
                        before = backend.served
                        replica.start()
                        await replica.ready()
                        await balancer.until_up(replica.url)
                        await load.answered(CALLS_BETWEEN)
                        assert backend.served > before  # the new process takes calls
                finally:
                    load.stop.set()
                    await asyncio.gather(*clients, return_exceptions=True)
            for replica in replicas:
                replica.terminate()
            for replica in replicas:
                assert await replica.exited(STOP_WITHIN_S) == 0, replica.text()
        finally:
            for replica in replicas:
                replica.kill()
    refused = sum(b.refused for b in balancer.backends)
    print(f"{len(load.ids)} calls answered, {refused} connects refused and sent elsewhere")
    assert load.failures == [], load.failures[:5]
    rows = await usage_rows(registry)
    lost = set(load.ids) - rows.keys()
    assert not lost, f"{len(lost)} of {len(load.ids)} answered calls have no usage row"
    assert all(row.status == "ok" for row in rows.values())
    assert await holds_left(registry) == 0
    for replica in replicas:
        log = replica.text()
        assert "Traceback" not in log, log
        assert caller.key not in log
