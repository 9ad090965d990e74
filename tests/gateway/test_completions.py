"""``POST /v1/completions`` end to end through a real server, with the official ``openai``
SDK and raw HTTP: translated to chat for a chat-only upstream (one chat request per prompt,
the answers made one ``text_completion``), passed through natively to the upstream's
``/completions`` for a model with the ``completion`` capability; usage rows of operation
``completion``; parameters checked as OpenAI checks them (400 naming the parameter)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import orjson
import pytest
from aiohttp import web
from sqlalchemy import select

from modelyard.db.tables import Provider
from modelyard.gateway.completion import completion_call
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.upstream import Handler, sse_reply
from tests.gateway.v1_rig import CHAT, COMPLETE, MODEL, PROVIDER, Rig, openai_rig

INSTRUCT = "gpt-3.5-turbo-instruct"


def events_text(events: list[Any]) -> str:
    return "".join(f"data: {orjson.dumps(e).decode()}\n\n" for e in events) + "data: [DONE]\n\n"


def chat_upstream() -> Handler:
    """A chat-only upstream: each choice says what it was asked, with usage 5 + 3."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        asked = body["messages"][0]["content"]
        n = body.get("n") or 1
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": f"re {asked} #{i}"},
                "finish_reason": "length" if i else "stop",
            }
            for i in range(n)
        ]
        if not body.get("stream"):
            reply = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1700000000,
                "model": MODEL,
                "choices": choices,
                "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
            }
            return web.json_response(reply)
        events = []
        for i in range(n):
            for piece in ("re ", asked, f" #{i}"):
                delta = {"index": i, "delta": {"content": piece}, "finish_reason": None}
                events.append({"object": "chat.completion.chunk", "choices": [delta]})
            done = {"index": i, "delta": {}, "finish_reason": "stop"}
            events.append({"object": "chat.completion.chunk", "choices": [done]})
        usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
        events.append({"object": "chat.completion.chunk", "choices": [], "usage": usage})
        return await sse_reply(events_text(events))(request)

    return handler


NATIVE_REPLY = (
    b'{"id":"cmpl-up","object":"text_completion","created":1700000000,'
    b'"model":"gpt-3.5-turbo-instruct","choices":[{"text":"Say hi there","index":0,'
    b'"logprobs":{"tokens":[" there"],"token_logprobs":[-0.5]},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}'
)


def native_upstream() -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not body.get("stream"):
            return web.Response(body=NATIVE_REPLY, content_type="application/json")
        events = [
            {"object": "text_completion", "choices": [{"text": t, "index": 0}]}
            for t in ("Hello", " world")
        ]
        usage = {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
        events.append({"object": "text_completion", "choices": [], "usage": usage})
        return await sse_reply(events_text(events))(request)

    return handler


@pytest.fixture
async def rig(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    async with openai_rig(settings, registry, admin, tmp_path) as made:
        made.reply(CHAT, chat_upstream())
        made.reply(COMPLETE, native_upstream())
        yield made


async def instruct_model(rig: Rig, admin: Actor) -> None:
    registry = rig.registry
    async with registry.db.engine.connect() as conn:
        found = await conn.execute(select(Provider.id).where(Provider.name == PROVIDER))
        provider_id = found.scalar_one()
    await registry.models.create(
        admin,
        {
            "provider_id": provider_id,
            "model_id": INSTRUCT,
            "capabilities": ["text", "completion", "streaming"],
            "price": {"input_per_mtok": "2", "output_per_mtok": "8"},
        },
    )
    await rig.app.state.gateway.holder.refresh()


def sdk(rig: Rig) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{rig.url}/v1", api_key=rig.key, max_retries=0)


async def post(rig: Rig, body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=rig.url) as http:
        headers = {"Authorization": f"Bearer {rig.key}"}
        return await http.post("/v1/completions", json=body, headers=headers)


async def test_a_prompt_is_answered_through_chat(rig: Rig) -> None:
    async with sdk(rig) as client:
        result = await client.completions.create(model=MODEL, prompt="Say hi", temperature=0.5)
    assert result.object == "text_completion"
    assert result.id.startswith("cmpl-")
    [choice] = result.choices
    assert (choice.text, choice.index, choice.finish_reason) == ("re Say hi #0", 0, "stop")
    assert choice.logprobs is None
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (5, 3)
    [sent] = rig.upstream.received
    assert sent.path == "/v1/chat/completions"
    assert sent.body == {
        "model": MODEL,
        "temperature": 0.5,
        "messages": [{"role": "user", "content": "Say hi"}],
        "max_tokens": 16,  # OpenAI's default for completions
    }
    [row] = await rig.usage()
    assert (row.operation, row.status, row.prompt_tokens, row.completion_tokens) == (
        "completion",
        "ok",
        5,
        3,
    )


async def test_several_prompts_are_one_call_with_their_choices_numbered(rig: Rig) -> None:
    response = await post(
        rig, {"model": MODEL, "prompt": ["a", "b"], "n": 2, "max_tokens": 7, "stop": ["\n"]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(c["index"], c["text"], c["finish_reason"]) for c in body["choices"]] == [
        (0, "re a #0", "stop"),
        (1, "re a #1", "length"),
        (2, "re b #0", "stop"),
        (3, "re b #1", "length"),
    ]
    assert body["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 6,
        "total_tokens": 16,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    sent = sorted(r.body["messages"][0]["content"] for r in rig.upstream.received)
    assert sent == ["a", "b"]
    assert {r.body["max_tokens"] for r in rig.upstream.received} == {7}
    assert all(r.body["stop"] == ["\n"] and r.body["n"] == 2 for r in rig.upstream.received)
    [row] = await rig.usage()
    assert (row.operation, row.prompt_tokens, row.completion_tokens) == ("completion", 10, 6)


@pytest.mark.parametrize("usage", [True, False], ids=["usage", "no-usage"])
async def test_a_streamed_completion_through_chat(rig: Rig, usage: bool) -> None:
    async with sdk(rig) as client:
        stream = await client.completions.create(
            model=MODEL,
            prompt=["x", "y"],
            stream=True,
            stream_options={"include_usage": True} if usage else None,
        )
        chunks = [chunk async for chunk in stream]
    assert {c.object for c in chunks} == {"text_completion"}
    texts: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + choice.text
    assert texts == {0: "re x #0", 1: "re y #0"}
    finished = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
    assert finished == ["stop", "stop"]
    if usage:
        assert chunks[-1].choices == []
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.total_tokens == 16
    else:
        assert all(c.usage is None for c in chunks)
    [row] = await rig.usage()
    assert (row.operation, row.status, row.prompt_tokens, row.completion_tokens) == (
        "completion",
        "ok",
        10,
        6,
    )


async def test_the_raw_stream_ends_with_done(rig: Rig) -> None:
    async with (
        httpx.AsyncClient(base_url=rig.url) as http,
        http.stream(
            "POST",
            "/v1/completions",
            json={"model": MODEL, "prompt": "x", "stream": True},
            headers={"Authorization": f"Bearer {rig.key}"},
        ) as response,
    ):
        text = (await response.aread()).decode()
    assert response.headers["content-type"] == "text/event-stream"
    events = [e for e in text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    assert all(orjson.loads(e[6:])["object"] == "text_completion" for e in events[:-1])


async def test_a_completion_model_is_served_natively(rig: Rig, admin: Actor) -> None:
    await instruct_model(rig, admin)
    ask = {"model": INSTRUCT, "prompt": "Say hi", "echo": True, "logprobs": 1, "suffix": "!"}
    response = await post(rig, ask)
    assert response.status_code == 200, response.text
    assert response.content == NATIVE_REPLY  # the upstream's own bytes
    [sent] = rig.upstream.received
    assert sent.path == "/v1/completions"
    assert sent.body == {**ask, "model": INSTRUCT}
    [row] = await rig.usage()
    assert (row.operation, row.prompt_tokens, row.completion_tokens) == ("completion", 2, 1)


async def test_a_native_stream_through_the_sdk(rig: Rig, admin: Actor) -> None:
    await instruct_model(rig, admin)
    async with sdk(rig) as client:
        stream = await client.completions.create(model=INSTRUCT, prompt="Say", stream=True)
        chunks = [chunk async for chunk in stream]
    assert "".join(c.text for chunk in chunks for c in chunk.choices) == "Hello world"
    assert all(chunk.usage is None for chunk in chunks)  # not asked for, still recorded
    [sent] = rig.upstream.received
    assert sent.body["stream_options"] == {"include_usage": True}
    [row] = await rig.usage()
    assert (row.operation, row.prompt_tokens, row.completion_tokens) == ("completion", 2, 2)


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"temperature": 7}, "temperature", "decimal_above_max_value"),
        ({"prompt": [1, 2, 3]}, "prompt", "invalid_type"),
        ({"prompt": [[1, 2]]}, "prompt", "invalid_type"),
        ({"prompt": []}, "prompt", "empty_array"),
        ({"prompt": ["a", 3.5]}, "prompt", "invalid_type"),
        ({"prompt": None}, "prompt", "missing_required_parameter"),
        ({"max_tokens": -1}, "max_tokens", "integer_below_min_value"),
        ({"n": 0}, "n", "integer_below_min_value"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "array_above_max_length"),
        ({"logit_bias": {"x": 1}}, "logit_bias", "invalid_value"),
        ({"stream": "yes"}, "stream", "invalid_type"),
        ({"echo": True}, "echo", "unsupported_parameter"),
        ({"suffix": "end"}, "suffix", "unsupported_parameter"),
        ({"logprobs": 2}, "logprobs", "unsupported_parameter"),
        ({"best_of": 3}, "best_of", "unsupported_parameter"),
        ({"logprobs": 9}, "logprobs", "integer_above_max_value"),
        ({"max_tokens": 0}, "max_tokens", "unsupported_parameter"),
    ],
)
async def test_bad_parameters_are_refused_naming_them(
    rig: Rig, body: dict[str, Any], param: str, code: str
) -> None:
    response = await post(rig, {"model": MODEL, "prompt": "hi", **body})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code)
    assert param in error["message"]
    assert rig.upstream.received == []


async def test_a_missing_prompt_is_refused(rig: Rig) -> None:
    response = await post(rig, {"model": MODEL})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "prompt"


async def test_native_only_parameters_keep_to_native_candidates(rig: Rig, admin: Actor) -> None:
    await instruct_model(rig, admin)
    response = await post(rig, {"model": INSTRUCT, "prompt": "x", "best_of": 2})
    assert response.status_code == 200, response.text
    assert [r.path for r in rig.upstream.received] == ["/v1/completions"]


async def test_a_stream_failing_midway_ends_with_an_error_event_and_one_log_line(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    first = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": "a"}}],
    }
    broken = {"error": {"message": "secret upstream words", "code": 500}}
    text = "".join(f"data: {orjson.dumps(e).decode()}\n\n" for e in (first, broken))
    rig.reply(CHAT, sse_reply(text))
    caplog.set_level(logging.INFO, logger="modelyard.gateway")
    async with (
        httpx.AsyncClient(base_url=rig.url) as http,
        http.stream(
            "POST",
            "/v1/completions",
            json={"model": MODEL, "prompt": "x", "stream": True},
            headers={"Authorization": f"Bearer {rig.key}"},
        ) as response,
    ):
        body = (await response.aread()).decode()
    events = [orjson.loads(e[6:]) for e in body.split("\n\n") if e]
    assert events[0]["choices"][0]["text"] == "a"
    assert "error" in events[-1]
    request_id = response.headers["x-request-id"]
    [line] = [r.getMessage() for r in caplog.records if request_id in r.getMessage()]
    assert line.startswith("stream failed -> 5")
    assert f'model="{MODEL}"' in line
    assert "user=" in line
    assert "secret upstream words" not in caplog.text
    [row] = await rig.usage()
    assert (row.operation, row.status) == ("completion", "error")


async def test_several_prompts_count_together_in_the_budget(rig: Rig) -> None:
    gateway = rig.app.state.gateway
    snap = gateway.snapshot()
    key = snap.authenticate(rig.key, gateway.clock())
    one = completion_call(
        gateway, snap, key, "r1", {"model": MODEL, "prompt": "hello there", "max_tokens": 10}
    )
    three = completion_call(
        gateway, snap, key, "r2", {"model": MODEL, "prompt": ["hello there"] * 3, "max_tokens": 10}
    )
    assert one.call.prompt > 0
    assert three.call.prompt == 3 * one.call.prompt
    assert three.call.budget == 3 * one.call.budget == 3 * (one.call.prompt + 10)
    assert three.call.worst == 3 * one.call.worst
