"""``modelyard serve``'s server (:class:`modelyard.cli.drain.DrainingServer`) in process:
what a signal starts, without sending one (``handle_exit`` is what uvicorn installs as the
handler). The process-level test with real signals is ``test_drain.py``."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from modelyard.api.app import create_app
from modelyard.cli.drain import SAME_SIGNAL_S, DrainingServer
from modelyard.services import Registry
from modelyard.settings import Settings

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
DELAY_S = 1.0


@pytest.fixture
async def server(
    settings: Settings, registry: Registry, tmp_path: Path
) -> AsyncIterator[tuple[DrainingServer, asyncio.Task[None], str]]:
    local = settings.model_copy(
        update={"usage_outbox": tmp_path / "usage.outbox", "billing_interval_s": 0}
    )
    config = uvicorn.Config(
        create_app(local, registry=registry),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        access_log=False,
    )
    server = DrainingServer(config, delay_s=DELAY_S, timeout_s=1.0)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(60):
            while not server.started:
                assert not task.done(), task.result()
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield server, task, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60)


@SQLITE
async def test_a_signal_drains_then_stops_without_raising_it_again(
    server: tuple[DrainingServer, asyncio.Task[None], str],
) -> None:
    drain, task, url = server
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/health/ready")).status_code == 200
    drain.handle_exit(signal.SIGTERM, None)
    assert not drain.should_exit  # the listener stays open for the delay
    seen = []
    while True:
        try:
            async with httpx.AsyncClient(base_url=url) as probe:
                answer = await probe.get("/health/ready")
        except httpx.ConnectError:
            break
        seen.append((answer.status_code, answer.json()["checks"].get("draining")))
        await asyncio.sleep(0.05)
    assert seen
    assert {status for status, _ in seen} == {503}, seen
    assert all(draining is not None for _, draining in seen)
    await asyncio.wait_for(task, 30)
    assert not drain.force_exit
    assert not drain._captured_signals  # nothing re-raised: the process exits 0


def test_a_second_signal_stops_at_once() -> None:
    """As a second Ctrl+C in uvicorn: nothing more is waited for; but one arriving within a
    second of the first is the same one again (Ctrl+C on a terminal reaches each worker of
    ``--workers N`` from the terminal and from the supervisor) and the drain goes on."""
    drain = DrainingServer(uvicorn.Config(app=None), delay_s=DELAY_S, timeout_s=1.0)
    drain.handle_exit(signal.SIGTERM, None)
    assert not drain.should_exit
    drain.handle_exit(signal.SIGINT, None)  # at once: the same Ctrl+C, relayed
    assert not drain.should_exit
    assert drain.asked is not None
    drain.asked -= SAME_SIGNAL_S  # a second later: a person's second Ctrl+C
    drain.handle_exit(signal.SIGINT, None)
    assert drain.should_exit
    assert drain.force_exit
    assert not drain._captured_signals
