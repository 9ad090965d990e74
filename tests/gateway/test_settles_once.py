"""A call settles exactly once, whatever its exit: one usage row handed to the recorder for a
success, an upstream failure before any chunk, a client gone mid-stream or before the first
chunk, a call cancelled while it waits for the upstream, a fault mid-stream. (The database
keeps one row per request id, so the recorder is what is counted.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from modelyard.adapters.base import StreamChunk
from modelyard.adapters.openai import OpenAIAdapter
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.paced import DONE, Paced, chunk, event, usage_chunk
from tests.gateway.upstream import json_reply
from tests.gateway.v1_rig import CHAT, MODEL, PROVIDER, Rig, openai_rig

PATH = "/v1/chat/completions"
ASK = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
STREAM = ASK | {"stream": True}
FAILURE = {"error": {"message": "down for maintenance", "type": "server_error", "code": None}}


@pytest.fixture
async def rig(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    async with openai_rig(settings, registry, admin, tmp_path) as made:
        yield made


@pytest.mark.parametrize("body", [ASK, STREAM], ids=["json", "stream"])
async def test_an_upstream_failure_before_any_chunk_settles_once_as_an_error(
    rig: Rig, body: dict[str, Any]
) -> None:
    rig.reply(CHAT, json_reply(FAILURE, 500))
    exchange = await rig.call(PATH, body)
    assert exchange.start["status"] == 503
    sent = orjson.loads(exchange.content)
    assert sent["error"]["code"] == "upstream_unavailable"
    assert sent["error"]["message"].endswith("HTTP 500: down for maintenance")
    assert len(rig.upstream.received) == 2  # retried once (max_attempts 2), still one call
    [record] = rig.records
    [row] = await rig.usage()
    assert (row.status, row.error_code, row.attempts) == ("error", "UPSTREAM_UNAVAILABLE", 2)
    assert (row.prompt_tokens, row.completion_tokens) == (0, 0)
    assert row.provider_name == PROVIDER
    assert record.request_id == row.request_id


async def test_a_stream_that_closes_before_any_data_settles_once_as_an_error(rig: Rig) -> None:
    async def empty(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b": nothing to say\n\n", content_type="text/event-stream")

    rig.reply(CHAT, empty)
    exchange = await rig.call(PATH, STREAM)
    assert exchange.start["status"] == 502
    [record] = rig.records
    assert (record.status, record.error_code) == ("error", "UPSTREAM_ERROR")


@pytest.mark.parametrize("body", [ASK, STREAM], ids=["json", "stream"])
async def test_a_successful_call_settles_once(rig: Rig, body: dict[str, Any]) -> None:
    reply = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5},
    }
    if body.get("stream"):
        rig.reply(CHAT, Paced(event(chunk("hi")) + event(usage_chunk(4, 1)) + DONE).handler)
    else:
        rig.reply(CHAT, json_reply(reply))
    exchange = await rig.call(PATH, body)
    assert exchange.start["status"] == 200
    [record] = rig.records
    assert (record.status, record.prompt_tokens, record.completion_tokens) == ("ok", 4, 1)


async def test_a_client_gone_mid_stream_is_settled_once_as_aborted_and_written_no_more(
    rig: Rig,
) -> None:
    paced = Paced(event(chunk("Once upon")), event(chunk(" a time")), DONE)
    rig.reply(CHAT, paced.handler)
    exchange = rig.exchange(PATH, STREAM)
    task = exchange.run()
    try:
        assert (await exchange.next())["type"] == "http.response.start"
        first = await exchange.next()
        assert first["more_body"] is True
        exchange.gone.set()  # the client disconnects while the upstream is still talking
        await asyncio.wait_for(task, 10)
    finally:
        paced.release()
    assert exchange.bodies == [first]  # nothing is written to a client that is gone
    assert paced.written == 1
    [record] = rig.records
    [row] = await rig.usage()
    assert (row.status, row.error_code) == ("aborted", None)
    assert row.estimated is True  # charged for what was produced, estimated
    assert row.completion_tokens > 0
    assert record.request_id == row.request_id


async def test_a_client_gone_before_the_first_chunk_is_settled_once_as_aborted(rig: Rig) -> None:
    paced = Paced(b": warming up\n\n", event(chunk("late")), event(chunk(" reply")), DONE)
    rig.reply(CHAT, paced.handler)
    exchange = rig.exchange(PATH, STREAM)
    task = exchange.run()
    try:
        for _ in range(1000):  # until the upstream has been asked
            if rig.upstream.received:
                break
            await asyncio.sleep(0.005)
        exchange.gone.set()
        paced.go_on()  # the first chunk arrives after the client left
        await asyncio.wait_for(task, 10)
    finally:
        paced.release()
    [record] = rig.records
    assert record.status == "aborted"
    assert b"[DONE]" not in exchange.content


@pytest.mark.parametrize("body", [ASK, STREAM], ids=["json", "stream"])
async def test_a_call_cancelled_while_it_waits_for_the_upstream_settles_once_as_aborted(
    rig: Rig, body: dict[str, Any]
) -> None:
    answer = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        await answer.wait()
        return web.Response(body=b"{}", content_type="application/json")

    rig.reply(CHAT, slow)
    task = rig.exchange(PATH, body).run()
    try:
        for _ in range(1000):  # until the upstream has been asked
            if rig.upstream.received:
                break
            await asyncio.sleep(0.005)
        task.cancel()  # what an ASGI server does to a request whose client left, or on stop
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        answer.set()
    [record] = rig.records
    assert (record.status, record.error_code) == ("aborted", None)
    # the upstream had the prompt: it is charged, estimated; nothing was produced
    assert (record.completion_tokens, record.estimated) == (0, True)
    assert record.prompt_tokens > 0
    [row] = await rig.usage()
    assert row.request_id == record.request_id


async def test_a_fault_mid_stream_settles_once_as_an_error_not_a_success(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = OpenAIAdapter.stream

    async def breaks(self: Any, *args: Any) -> AsyncIterator[StreamChunk]:
        async for item in real(self, *args):
            yield item
            raise RuntimeError("a bug after the first chunk")

    monkeypatch.setattr(OpenAIAdapter, "stream", breaks)
    paced = Paced(event(chunk("a")), event(chunk("b")), DONE)
    rig.reply(CHAT, paced.handler)
    try:
        exchange = await rig.call(PATH, STREAM)
    finally:
        paced.release()
    [record] = rig.records
    assert (record.status, record.error_code) == ("error", "INTERNAL_ERROR")
    # The client had what came before the fault, then an error event ending the body.
    events = [e for e in exchange.content.split(b"\n\n") if e]
    assert orjson.loads(events[0].removeprefix(b"data: ")) == chunk("a")
    error = orjson.loads(events[-1].removeprefix(b"data: "))["error"]
    assert (error["code"], error["type"]) == ("internal_error", "api_error")
    assert b"[DONE]" not in exchange.content
    assert exchange.bodies[-1]["more_body"] is False


async def test_a_malformed_chunk_is_relayed_and_the_call_settles_once(rig: Rig) -> None:
    odd = {"id": "c", "choices": [{"index": 0, "delta": "not an object"}, "nor this"]}
    paced = Paced(event(chunk("a")), event(odd), event(chunk("b")), DONE)
    paced.release()  # everything at once
    rig.reply(CHAT, paced.handler)
    exchange = await rig.call(PATH, STREAM)
    assert exchange.content.endswith(DONE)
    assert exchange.bodies[-1]["more_body"] is False
    [record] = rig.records
    assert (record.status, record.estimated) == ("ok", True)
    assert record.completion_tokens > 0  # "a" and "b" counted, the odd chunk ignored
