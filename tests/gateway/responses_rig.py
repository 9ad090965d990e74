"""Support for tests/gateway/test_e2e_responses.py: one local fake upstream speaking three wire
formats (OpenAI's Responses API at ``/native/v1/responses``, OpenAI chat completions at
``/compat/v1/chat/completions``, Anthropic's Messages API at ``/v1/messages``), each as JSON or
a stream, and a modelyard server in front of it with one model per format.

Every upstream answers the same way: with function tools and no tool result yet, a call of
``get_weather`` with ``{"city": "Paris"}``; after a tool result, :data:`AFTER_TOOL`; else
:data:`ANSWER`. Usage is always :data:`PROMPT` in and :data:`COMPLETION` out, so each call
costs :data:`COST` at :data:`PRICE`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy import select

from modelyard.billing.credits import GrantCreate
from modelyard.db.tables import UsageEvent
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running
from tests.gateway.upstream import Upstream, fake_upstream

NATIVE, COMPAT, CLAUDE = "native-model", "compat-model", "claude-model"
SLOW = "slow-model"  # an OpenAI-compatible upstream that sends a delta, then waits for Rig.release
BROKEN = "broken-model"  # an OpenAI-compatible upstream whose streams fail after a delta
NATIVE_BROKEN = "native-broken-model"  # an OpenAI upstream whose streams fail likewise
SHARED = "shared-model"  # a failing OpenAI upstream's, falling back to compat-model
CREDITS = Decimal(100)  # granted to the caller: each call is paid for
CHARGE = Decimal("0.6")  # COST at 100 credits per USD
MODELS = (NATIVE, COMPAT, CLAUDE)
ANSWER = "Bonjour from upstream."
AFTER_TOOL = "It is sunny in Paris."
ARGUMENTS = '{"city": "Paris"}'
PROMPT, COMPLETION = 1000, 500
PRICE = {"input_per_mtok": "2", "output_per_mtok": "8"}
COST = Decimal("0.006")  # 1000 * 2 / 1e6 + 500 * 8 / 1e6
CAPABILITIES = ["text", "streaming", "vision", "function_calling", "json_mode"]
RETRY = {"max_attempts": 2, "base_delay_ms": 1, "max_delay_ms": 5, "jitter": False}


def _decide(tools: bool, tool_done: bool) -> str | None:
    """The text to answer, or None for a tool call."""
    if tools and not tool_done:
        return None
    return AFTER_TOOL if tool_done else ANSWER


def _sse(events: list[tuple[str | None, Any]]) -> bytes:
    out = b""
    for name, data in events:
        if name is not None:
            out += f"event: {name}\n".encode()
        out += b"data: " + (data if isinstance(data, bytes) else orjson.dumps(data)) + b"\n\n"
    return out


async def _send(request: web.Request, payload: Any, stream: bool) -> web.StreamResponse:
    if not stream:
        return web.json_response(payload, dumps=lambda v: orjson.dumps(v).decode())
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(payload)
    await response.write_eof()
    return response


async def native(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    items = body.get("input") if isinstance(body.get("input"), list) else []
    text = _decide(
        bool(body.get("tools")), any(i.get("type") == "function_call_output" for i in items)
    )
    usage = {
        "input_tokens": PROMPT,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": COMPLETION,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": PROMPT + COMPLETION,
    }
    if text is None:
        item: Any = {
            "type": "function_call",
            "id": "fc_up1",
            "call_id": "call_up1",
            "name": "get_weather",
            "arguments": ARGUMENTS,
            "status": "completed",
        }
    else:
        part = {"type": "output_text", "text": text, "annotations": []}
        item = {
            "type": "message",
            "id": "msg_up1",
            "status": "completed",
            "role": "assistant",
            "content": [part],
        }
    base = {
        "id": "resp_upstream",
        "object": "response",
        "created_at": 1,
        "model": body["model"],
        "metadata": body.get("metadata") or {},
        "text": body.get("text"),
    }
    final = base | {"status": "completed", "output": [item], "usage": usage}
    if not body.get("stream"):
        return await _send(request, final, False)
    started = base | {"status": "in_progress", "output": [], "usage": None}
    events: list[tuple[str | None, Any]] = [
        ("response.created", {"type": "response.created", "response": started}),
        ("response.in_progress", {"type": "response.in_progress", "response": started}),
    ]
    opened = {**item, "status": "in_progress"}
    if text is None:
        opened["arguments"] = ""
    else:
        opened["content"] = []
    events.append(("x", {"type": "response.output_item.added", "output_index": 0, "item": opened}))
    if text is None:
        for delta in ('{"city": ', '"Paris"}'):
            events.append(
                (
                    "x",
                    {
                        "type": "response.function_call_arguments.delta",
                        "item_id": "fc_up1",
                        "output_index": 0,
                        "delta": delta,
                    },
                )
            )
        events.append(
            (
                "x",
                {
                    "type": "response.function_call_arguments.done",
                    "item_id": "fc_up1",
                    "output_index": 0,
                    "arguments": ARGUMENTS,
                },
            )
        )
    else:
        where = {"item_id": "msg_up1", "output_index": 0, "content_index": 0}
        events.append(
            ("x", {"type": "response.content_part.added", **where, "part": {**part, "text": ""}})
        )
        for delta in (text[:7], text[7:]):
            events.append(("x", {"type": "response.output_text.delta", **where, "delta": delta}))
        events.append(("x", {"type": "response.output_text.done", **where, "text": text}))
        events.append(("x", {"type": "response.content_part.done", **where, "part": part}))
    events.append(("x", {"type": "response.output_item.done", "output_index": 0, "item": item}))
    events.append(("response.completed", {"type": "response.completed", "response": final}))
    return await _send(request, _sse(events), True)


async def compat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    messages = body.get("messages") or []
    text = _decide(bool(body.get("tools")), any(m.get("role") == "tool" for m in messages))
    usage = {
        "prompt_tokens": PROMPT,
        "completion_tokens": COMPLETION,
        "total_tokens": PROMPT + COMPLETION,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    call = {
        "id": "call_up1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ARGUMENTS},
    }
    message: Any = {"role": "assistant", "content": text}
    if text is None:
        message["tool_calls"] = [call]
    finish = "tool_calls" if text is None else "stop"
    base = {"id": "chatcmpl-1", "created": 1, "model": body["model"]}
    if not body.get("stream"):
        reply = base | {
            "object": "chat.completion",
            "usage": usage,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        return await _send(request, reply, False)
    chunk = base | {"object": "chat.completion.chunk"}
    deltas: list[Any] = [{"role": "assistant", "content": ""}]
    if text is None:
        deltas.append(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_up1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        )
        deltas += [
            {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}
            for part in ('{"city": ', '"Paris"}')
        ]
    else:
        deltas += [{"content": text[:7]}, {"content": text[7:]}]
    events: list[tuple[str | None, Any]] = [
        (None, chunk | {"choices": [{"index": 0, "delta": d, "finish_reason": None}]})
        for d in deltas
    ]
    events.append((None, chunk | {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
    events.append((None, chunk | {"choices": [], "usage": usage}))
    events.append((None, b"[DONE]"))
    return await _send(request, _sse(events), True)


async def broken(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    chunk = {
        "id": "chatcmpl-1",
        "created": 1,
        "model": body["model"],
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": "Bonjour"}, "finish_reason": None}],
    }
    error = {"error": {"message": "the model is overloaded", "type": "server_error"}}
    return await _send(request, _sse([(None, chunk), (None, error)]), True)


async def native_broken(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    started = {
        "id": "resp_upstream",
        "object": "response",
        "created_at": 1,
        "model": body["model"],
        "status": "in_progress",
        "output": [],
    }
    item = {
        "type": "message",
        "id": "msg_up1",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    delta = {
        "type": "response.output_text.delta",
        "item_id": "msg_up1",
        "output_index": 0,
        "content_index": 0,
        "delta": "Bonjour",
    }
    events: list[tuple[str | None, Any]] = [
        ("response.created", {"type": "response.created", "response": started}),
        ("x", {"type": "response.output_item.added", "output_index": 0, "item": item}),
        (
            "x",
            {
                "type": "response.content_part.added",
                "item_id": "msg_up1",
                "output_index": 0,
                "content_index": 0,
                "part": {"type": "output_text", "text": ""},
            },
        ),
        ("x", delta),
        ("error", {"type": "error", "code": "server_error", "message": "the model is overloaded"}),
    ]
    return await _send(request, _sse(events), True)


async def down(_: web.Request) -> web.StreamResponse:
    error = {"error": {"message": "down for maintenance", "type": "server_error"}}
    return web.json_response(error, status=503)


async def claude(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    tool_done = any(
        isinstance(m.get("content"), list)
        and any(b.get("type") == "tool_result" for b in m["content"])
        for m in body.get("messages") or []
    )
    text = _decide(bool(body.get("tools")), tool_done)
    block: Any = (
        {"type": "tool_use", "id": "toolu_up1", "name": "get_weather", "input": {"city": "Paris"}}
        if text is None
        else {"type": "text", "text": text}
    )
    stop = "tool_use" if text is None else "end_turn"
    base = {
        "id": "msg_up1",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "stop_sequence": None,
    }
    if not body.get("stream"):
        reply = base | {
            "content": [block],
            "stop_reason": stop,
            "usage": {"input_tokens": PROMPT, "output_tokens": COMPLETION},
        }
        return await _send(request, reply, False)
    events: list[tuple[str | None, Any]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": base
                | {
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": PROMPT, "output_tokens": 1},
                },
            },
        ),
    ]
    if text is None:
        start = {**block, "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": p} for p in ('{"city": ', '"Paris"}')
        ]
    else:
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in (text[:7], text[7:])]
    events.append(
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start})
    )
    for delta in deltas:
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": COMPLETION},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return await _send(request, _sse(events), True)


@dataclass
class Rig:
    app: Any
    url: str
    key: str
    other_key: str  # another user's
    user_id: Any
    admin: Actor
    release: asyncio.Event  # lets the slow upstream end its stream
    registry: Registry
    upstream: Upstream

    def received(self, path: str) -> list[Any]:
        return [r.body for r in self.upstream.received if r.path == path]

    async def usage(self) -> list[Any]:
        await self.app.state.gateway.recorder.flush()
        async with self.registry.db.engine.connect() as conn:
            rows = await conn.execute(select(UsageEvent.__table__))
            return sorted(rows, key=lambda row: (row.occurred_at, row.request_id))


async def _user(registry: Registry, admin: Actor, email: str) -> str:
    user = await registry.users.create(admin, UserCreate(email=email))
    return (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key


@asynccontextmanager
async def responses_rig(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    await registry.settings.set(admin, "gateway.retry", RETRY)
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        chunk = {
            "id": "chatcmpl-1",
            "created": 1,
            "model": body["model"],
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": "Once upon"}}],
        }
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(_sse([(None, chunk)]))
        await release.wait()
        return response

    routes = {
        ("POST", "/native/v1/responses"): native,
        ("POST", "/compat/v1/chat/completions"): compat,
        ("POST", "/v1/messages"): claude,
        ("POST", "/broken/v1/chat/completions"): broken,
        ("POST", "/down/v1/responses"): down,
        ("POST", "/nbroken/v1/responses"): native_broken,
        ("POST", "/slow/v1/chat/completions"): slow,
    }
    async with fake_upstream(routes) as upstream:
        providers = (
            ("up-native", "openai", f"{upstream.url}/native/v1", (NATIVE,)),
            ("up-compat", "openai_compatible", f"{upstream.url}/compat/v1", (COMPAT,)),
            ("up-down", "openai", f"{upstream.url}/down/v1", (SHARED,)),
            ("up-claude", "anthropic", upstream.url, (CLAUDE,)),
            ("up-broken", "openai_compatible", f"{upstream.url}/broken/v1", (BROKEN,)),
            ("up-nbroken", "openai", f"{upstream.url}/nbroken/v1", (NATIVE_BROKEN,)),
            ("up-slow", "openai_compatible", f"{upstream.url}/slow/v1", (SLOW,)),
        )
        for name, kind, base_url, models in providers:
            provider = await registry.providers.create(
                admin, {"name": name, "kind": kind, "base_url": base_url, "api_key": "k-up"}
            )
            for model in models:
                spec = {"provider_id": provider.id, "model_id": model, "price": PRICE}
                if model == SHARED:
                    spec["fallbacks"] = [f"up-compat/{COMPAT}"]
                await registry.models.create(admin, spec | {"capabilities": CAPABILITIES})
        user = await registry.users.create(admin, UserCreate(email="app@example.com"))
        key = (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key
        await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=CREDITS))
        other = await _user(registry, admin, "other@example.com")
        local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
        try:
            async with running(local, registry) as (url, app):
                yield Rig(app, url, key, other, user.id, admin, release, registry, upstream)
        finally:
            release.set()
