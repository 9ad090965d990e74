"""Anthropic's Messages API end to end, continued (tests/gateway/messages_rig.py): streamed
tool use, a failure mid-stream, a caller that goes away, a fallback chain mixing an
Anthropic and an OpenAI-compatible upstream, and what only an Anthropic upstream can
serve."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import orjson
import pytest
from aiohttp import web

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.messages_rig import BACKUP, MODEL, Rig, add_backup, cost, messages_rig
from tests.gateway.server import running
from tests.gateway.upstream import Handler, fixture, json_reply, sse_reply

ASK: Any = [{"role": "user", "content": "What is the weather in Porto?"}]
TOOL: Any = {"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}


@pytest.fixture(params=["anthropic", "openai"])
async def rig(
    request: pytest.FixtureRequest,
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Any,
) -> AsyncIterator[Rig]:
    async with messages_rig(request.param, settings, registry, admin, tmp_path) as made:
        yield made


def stalled(events: str, count: int) -> Handler:
    """The first ``count`` events of a recorded stream, then silence until the gateway
    hangs up."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in [e for e in events.split("\n\n") if e.strip()][:count]:
            await response.write((event.strip("\n") + "\n\n").encode())
        await asyncio.Event().wait()
        return response

    return handler


def events_of(text: str) -> list[tuple[str, Any]]:
    """``(event name, data)`` of each Server-Sent Event in ``text``."""
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if lines:
            found.append((lines["event"], orjson.loads(lines["data"])))
    return found


async def test_a_streamed_tool_use_arrives_as_input_json_deltas(rig: Rig) -> None:
    if rig.kind == "anthropic":
        rig.reply(sse_reply(fixture("anthropic/stream_tool_use.sse")))
        counts = (472, 256, 0, 104)
        calls = [
            ("get_weather", {"city": "Porto", "unit": "celsius"}),
            ("get_local_time", {"timezone": "Europe/Lisbon"}),
            ("list_open_museums", {}),
        ]
    else:
        rig.reply(sse_reply(fixture("openai/chat_stream_tool_calls.sse")))
        counts = (82, 0, 0, 17)
        calls = [("get_current_weather", {"location": "Boston, MA"})]
    async with (
        rig.client() as client,
        client.messages.stream(model=MODEL, max_tokens=300, messages=ASK, tools=[TOOL]) as stream,
    ):
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert kinds[0] == "message_start"
    assert "input_json" in kinds
    assert kinds[-1] == "message_stop"
    assert final.stop_reason == "tool_use"
    uses = [(b.name, b.input) for b in final.content if b.type == "tool_use"]
    assert uses == calls
    [row] = await rig.usage()
    assert (row.operation, row.status, row.estimated) == ("function_call", "ok", False)
    assert (row.prompt_tokens - row.cached_tokens, row.cached_tokens) == counts[:2]
    assert row.cost == cost(*counts)


async def test_a_failure_mid_stream_ends_it_with_an_error_event(rig: Rig) -> None:
    if rig.kind == "anthropic":
        rig.reply(sse_reply(fixture("anthropic/stream_overloaded.sse")))
        said, kind = "Take the", "overloaded_error"
    else:
        rig.reply(sse_reply(fixture("openai/chat_stream_error.sse")))
        said, kind = "The answer", "api_error"
    body = {"model": MODEL, "max_tokens": 50, "messages": ASK, "stream": True}
    async with rig.client() as client:
        headers = {"x-api-key": rig.caller_key, "anthropic-version": "2023-06-01"}
        async with httpx.AsyncClient(base_url=str(client.base_url)) as http:
            response = await http.post("/v1/messages", json=body, headers=headers)
    assert response.status_code == 200
    events = events_of(response.text)
    assert events[0][0] == "message_start"
    texts = [d["delta"]["text"] for name, d in events if name == "content_block_delta"]
    assert "".join(texts) == said
    name, error = events[-1]
    assert name == "error"
    assert error["type"] == "error"
    assert error["error"]["type"] == kind
    [row] = await rig.usage()
    assert (row.status, row.estimated) == ("error", True)
    assert row.completion_tokens >= 1
    assert row.cost > 0


async def test_a_caller_who_goes_away_mid_stream_is_charged_for_what_was_produced(
    rig: Rig,
) -> None:
    if rig.kind == "anthropic":
        rig.reply(stalled(fixture("anthropic/stream_text.sse"), 4))
    else:
        rig.reply(stalled(fixture("openai/chat_stream.sse"), 3))
    async with (
        rig.client() as client,
        client.messages.stream(model=MODEL, max_tokens=300, messages=ASK) as stream,
    ):
        async for text in stream.text_stream:
            assert text
            break  # leaving the block closes the connection
    [row] = await rig.usage()
    assert (row.status, row.estimated) == ("aborted", True)
    assert row.completion_tokens >= 1
    assert row.cost > 0
    assert row.charged_credits == row.cost * 100
    assert await rig.spent() == row.charged_credits


async def test_a_fallback_chain_may_mix_anthropic_and_openai_upstreams(
    rig: Rig, admin: Actor
) -> None:
    await add_backup(rig, admin)
    if rig.kind == "anthropic":  # Anthropic overloaded: the OpenAI-compatible backup answers
        rig.reply(json_reply(fixture("anthropic/error_529.json"), 529))
        rig.reply(json_reply(fixture("openai/chat_completion.json")), route="openai")
        backup, counts = "compat", (93, 1024, 0, 46)
    else:  # the OpenAI-compatible upstream fails: the Anthropic backup answers, natively
        rig.reply(json_reply(fixture("openai/error_503.json"), 503))
        rig.reply(json_reply(fixture("anthropic/message_text.json")), route="anthropic")
        backup, counts = "claude", (45, 2048, 120, 27)
    async with rig.client() as client:
        raw = await client.messages.with_raw_response.create(
            model=MODEL, max_tokens=100, messages=ASK
        )
    message = await raw.parse()
    assert raw.headers["x-modelyard-provider"] == backup
    assert raw.headers["x-modelyard-model"] == BACKUP
    assert message.usage.cache_creation_input_tokens == counts[2]
    [row] = await rig.usage()
    assert (row.provider_name, row.model_name, row.status) == (backup, BACKUP, "ok")
    assert (row.cached_tokens, row.cache_write_tokens) == counts[1:3]
    assert row.cost == cost(*counts)
    assert row.metadata == {"api": "messages"}


async def test_what_only_anthropic_can_serve_is_refused_for_another_upstream(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    document: Any = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "A contract."},
    }
    turn: Any = [{"role": "user", "content": [document, {"type": "text", "text": "Sum up."}]}]
    async with messages_rig("openai", settings, registry, admin, tmp_path) as rig:
        rig.reply(json_reply(fixture("openai/chat_completion.json")))
        async with rig.client() as client:
            with pytest.raises(anthropic.BadRequestError) as refused:
                await client.messages.create(model=MODEL, max_tokens=10, messages=turn)
        assert not rig.upstream.received
    error: Any = refused.value.body
    assert error["error"]["type"] == "invalid_request_error"
    assert "messages.0.content.0 (a document block)" in error["error"]["message"]
    assert "Anthropic provider" in error["error"]["message"]


async def test_count_tokens_needs_a_known_model_and_answers_in_anthropic_shape(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    async with (
        messages_rig("anthropic", settings, registry, admin, tmp_path) as rig,
        running(rig.settings, rig.registry) as (url, _app),
    ):
        client = anthropic.AsyncAnthropic(base_url=url, api_key=rig.caller_key, max_retries=0)
        with pytest.raises(anthropic.NotFoundError) as unknown:
            await client.messages.count_tokens(model="no-such-model", messages=ASK)
        async with httpx.AsyncClient(base_url=url) as http:
            wrong = await http.get("/v1/messages", headers={"x-api-key": rig.caller_key})
        await client.close()
    body: Any = unknown.value.body
    assert body["error"]["type"] == "not_found_error"
    assert "no-such-model" in body["error"]["message"]
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["type"] == "invalid_request_error"
    assert await rig.usage() == []
    assert Decimal(0) == await rig.spent()


async def test_a_refused_call_is_recorded_as_a_messages_call_and_told_in_anthropic_shape(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    async with messages_rig("openai", settings, registry, admin, tmp_path) as rig:
        provider = (await registry.models.get(admin, rig.model_id)).provider_id
        await registry.models.create(admin, {"provider_id": provider, "model_id": "unpriced"})
        async with rig.client() as client:
            with pytest.raises(anthropic.PermissionDeniedError) as refused:
                await client.messages.create(model="unpriced", max_tokens=10, messages=ASK)
        [row] = await rig.usage()
    body: Any = refused.value.body
    assert body["error"]["type"] == "permission_error"
    assert "no price" in body["error"]["message"]
    assert (row.model_name, row.status, row.error_code) == ("unpriced", "error", "MODEL_UNPRICED")
    assert row.metadata == {"api": "messages"}
    assert not rig.upstream.received


async def test_max_tokens_is_capped_to_what_the_balance_pays_for_on_either_upstream(
    rig: Rig,
) -> None:
    if rig.kind == "anthropic":
        rig.reply(json_reply(fixture("anthropic/message_text.json")))
    else:
        rig.reply(json_reply(fixture("openai/chat_completion.json")))
    async with rig.client() as client:
        raw = await client.messages.with_raw_response.create(
            model=MODEL, max_tokens=20_000, messages=ASK
        )
    capped = int(raw.headers["x-modelyard-max-tokens-capped"])
    assert 0 < capped < 20_000  # 10 credits pay for fewer: 15 USD/Mtok out is 0.0015 each
    [sent] = rig.sent()
    assert sent.body["max_tokens"] == capped
