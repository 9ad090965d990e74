"""SIGTERM drains one real ``modelyard serve``: readiness goes 503 at once, the listener closes
after the drain delay, a JSON call and a short stream in flight both finish, a stream longer
than the drain timeout ends with a ``SERVER_SHUTTING_DOWN`` event and is recorded aborted with
the tokens it produced, every call's usage row and credits are written, no credit hold is
left, and the process exits 0."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
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
from tests.gateway.upstream import Upstream

DELAY_S, TIMEOUT_S = 2.0, 5.0  # MODELYARD_DRAIN_DELAY_S, MODELYARD_DRAIN_TIMEOUT_S
JSON_S = 4.0  # the JSON call's upstream latency: still running when the listener closes
SHORT, LONG = (10, 0.3), (300, 0.1)  # streams' (chunks, seconds apart): ~3 s and ~30 s
# The bound on the whole stop: the drain, the streams' end (GRACE_S), the flush; the margin
# is for two busy cores, not a measure.
EXIT_WITHIN_S = DELAY_S + TIMEOUT_S + 5.0 + 30.0

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def _stream(http: httpx.AsyncClient, chunks: int, pause: float) -> tuple[str, list[Any]]:
    """The request id and every event of one streamed call (``[DONE]`` as the string)."""
    body = ask(f"stream {chunks} {pause}", stream=True)
    async with http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200, await response.aread()
        events = [
            line[6:] if line == "data: [DONE]" else orjson.loads(line[6:])
            async for line in response.aiter_lines()
            if line.startswith("data: ")
        ]
        return response.headers["x-request-id"], events


async def _until_received(upstream: Upstream, count: int) -> None:
    while len(upstream.received) < count:  # noqa: ASYNC110 (the upstream keeps a list)
        await asyncio.sleep(0.02)


@pytest.fixture
async def server(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Path
) -> AsyncIterator[tuple[Replica, Upstream, dict[str, str]]]:
    async with slow_upstream() as upstream:
        caller = await paying_caller(registry, admin, upstream.url)
        replica = Replica(
            "drain",
            settings,
            tmp_path,
            MODELYARD_DRAIN_DELAY_S=str(DELAY_S),
            MODELYARD_DRAIN_TIMEOUT_S=str(TIMEOUT_S),
            MODELYARD_LOG_LEVEL="info",
        )
        replica.start()
        try:
            await replica.ready()
            yield replica, upstream, {"Authorization": f"Bearer {caller.key}"}
        finally:
            replica.kill()
        log = replica.text()
        assert "Traceback" not in log, log
        assert caller.key not in log


async def _refused_after_not_ready(url: str) -> list[dict[str, Any]]:
    """Poll readiness on new connections until a connection is refused; what it answered."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + EXIT_WITHIN_S
    while time.monotonic() < deadline:
        try:
            async with httpx.AsyncClient(base_url=url, timeout=10) as probe:
                answer = await probe.get("/health/ready")
            seen.append({"http": answer.status_code, "checks": answer.json()["checks"]})
        except httpx.ConnectError:
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"the listener never closed; readiness said {seen[-3:]}")


async def test_sigterm_finishes_calls_in_flight_and_ends_streams_at_the_deadline(
    server: tuple[Replica, Upstream, dict[str, str]], registry: Registry
) -> None:
    replica, upstream, headers = server
    async with httpx.AsyncClient(base_url=replica.url, headers=headers, timeout=120) as http:
        json_call = asyncio.create_task(
            http.post("/v1/chat/completions", json=ask(f"json {JSON_S}"))
        )
        short = asyncio.create_task(_stream(http, *SHORT))
        long = asyncio.create_task(_stream(http, *LONG))
        try:
            await asyncio.wait_for(_until_received(upstream, 3), 60)
            replica.terminate()
            assert not json_call.done()  # it waits JSON_S at the upstream: in flight for sure

            seen = await _refused_after_not_ready(replica.url)
            assert seen, "readiness never answered during the drain delay"
            assert all(s["http"] == 503 and "draining" in s["checks"] for s in seen), seen

            answered = await json_call
            short_id, short_events = await short
            long_id, long_events = await long
        finally:
            for task in (json_call, short, long):
                task.cancel()
            await asyncio.gather(json_call, short, long, return_exceptions=True)
    assert replica.process is not None
    assert await replica.exited(EXIT_WITHIN_S) == 0

    assert answered.status_code == 200, answered.text
    assert answered.json()["choices"][0]["message"]["content"] == "done"
    assert short_events[-1] == "[DONE]"
    assert (
        "".join(
            e["choices"][0]["delta"].get("content", "") for e in short_events[:-1] if e["choices"]
        )
        == "word " * SHORT[0]
    )
    assert "[DONE]" not in long_events  # ended, not finished ...
    assert long_events[-1]["error"]["code"] == "server_shutting_down"  # ... and told so
    words = sum(1 for e in long_events[:-1] if e.get("choices") and e["choices"][0]["delta"])
    assert 0 < words < LONG[0]

    rows = await usage_rows(registry)
    json_row = rows[answered.headers["x-request-id"]]
    assert (json_row.status, json_row.completion_tokens) == ("ok", 1)
    assert (rows[short_id].status, rows[short_id].completion_tokens) == ("ok", SHORT[0])
    aborted = rows[long_id]
    assert (aborted.status, aborted.error_code) == ("aborted", "SERVER_SHUTTING_DOWN")
    assert 0 < aborted.completion_tokens < LONG[0]
    assert aborted.estimated
    assert all(row.charged_credits and row.charged_credits > 0 for row in rows.values())
    assert await holds_left(registry) == 0
    log = replica.text()
    assert "draining: not ready from now" in log
    assert "drain deadline: 1 stream(s) ended with SERVER_SHUTTING_DOWN" in log
