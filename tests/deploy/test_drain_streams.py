"""The drain deadline ends a stream cleanly on every way in: ``Gateway.streams.end()`` (what
``modelyard serve`` calls once ``MODELYARD_DRAIN_TIMEOUT_S`` has passed) makes each relay
write its error event in its own format and end the body, without ``[DONE]`` or a
completed event, and the call is recorded ``aborted`` with ``SERVER_SHUTTING_DOWN`` and the
tokens it produced. A stream that begins afterwards is not affected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.deploy.drain_rig import MODEL, paying_caller, slow_upstream, usage_rows
from tests.gateway.server import running

LONG = "stream 300 0.05"  # about 15 s of words: never finished here


def _chat_ended(events: list[str]) -> None:
    assert "data: [DONE]" not in events
    error = orjson.loads(events[-1].removeprefix("data: "))["error"]
    assert (error["code"], error["type"]) == ("server_shutting_down", "api_error")


def _messages_ended(events: list[str]) -> None:
    assert not any("message_stop" in line for line in events)
    assert events[-2] == "event: error"
    error = orjson.loads(events[-1].removeprefix("data: "))
    assert error["type"] == "error"
    assert "shutting down" in error["error"]["message"]


def _responses_ended(events: list[str]) -> None:
    assert not any("response.completed" in line for line in events)
    assert events[-2] == "event: response.failed"
    failed = orjson.loads(events[-1].removeprefix("data: "))["response"]
    assert (failed["status"], failed["error"]["code"]) == ("failed", "server_shutting_down")


CASES: dict[str, tuple[str, dict[str, Any], Callable[[list[str]], None]]] = {
    "chat": (
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": LONG}], "stream": True},
        _chat_ended,
    ),
    "completions": (
        "/v1/completions",
        {"model": MODEL, "prompt": LONG, "stream": True},
        _chat_ended,
    ),
    "messages": (
        "/v1/messages",
        {
            "model": MODEL,
            "max_tokens": 2000,
            "messages": [{"role": "user", "content": LONG}],
            "stream": True,
        },
        _messages_ended,
    ),
    "responses": (
        "/v1/responses",
        {"model": MODEL, "input": LONG, "stream": True},
        _responses_ended,
    ),
}

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def served(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    async with slow_upstream() as upstream:
        caller = await paying_caller(registry, admin, upstream.url)
        local = settings.model_copy(
            update={"usage_outbox": tmp_path / "usage.outbox", "billing_interval_s": 0}
        )
        async with running(local, registry) as (url, app):
            headers = {"Authorization": f"Bearer {caller.key}"}
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
                yield http, app
    # the server stopped: its usage is flushed


@pytest.mark.parametrize("way", list(CASES))
async def test_the_drain_deadline_ends_a_stream_with_an_error_event(
    served: tuple[httpx.AsyncClient, Any], registry: Registry, way: str
) -> None:
    http, app = served
    path, body, ended = CASES[way]
    streams = app.state.gateway.streams
    async with http.stream("POST", path, json=body) as response:
        assert response.status_code == 200, await response.aread()
        lines = response.aiter_lines()
        events = []
        async for line in lines:  # until the first words came
            if line:
                events.append(line)
            if "word" in line:
                break
        assert streams.end() == 1
        events += [line async for line in lines if line]
        request_id = response.headers["x-request-id"]
    ended(events)
    assert not streams.tasks
    await app.state.gateway.recorder.flush()
    row = (await usage_rows(registry))[request_id]
    assert (row.status, row.error_code) == ("aborted", "SERVER_SHUTTING_DOWN")
    assert 0 < row.completion_tokens < 300
    assert row.charged_credits > 0


async def test_a_stream_begun_after_the_deadline_is_not_ended(
    served: tuple[httpx.AsyncClient, Any],
) -> None:
    """end() ends the streams running then; one that begins later runs to its end (the
    server's backstop, not the deadline, would stop it)."""
    http, app = served
    app.state.gateway.streams.end()
    body = {"model": MODEL, "messages": [{"role": "user", "content": "stream 3 0"}], "stream": True}
    async with http.stream("POST", "/v1/chat/completions", json=body) as response:
        events = [line async for line in response.aiter_lines() if line]
    assert events[-1] == "data: [DONE]"
