"""The fake upstreams of tests/gateway/responses_rig.py, one handler per wire format and
behaviour: OpenAI's Responses API (:func:`native`), OpenAI chat completions (:func:`compat`),
Anthropic's Messages API (:func:`claude`), each as JSON or a stream, and failing ones
(:func:`broken` and :func:`native_broken` fail mid-stream, :func:`down` answers 503).

Every upstream answers the same way: with function tools and no tool result yet, a call of
``get_weather`` with ``{"city": "Paris"}``; after a tool result, :data:`AFTER_TOOL`; else
:data:`ANSWER`. Usage is always :data:`PROMPT` in and :data:`COMPLETION` out."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

ANSWER = "Bonjour from upstream."
AFTER_TOOL = "It is sunny in Paris."
ARGUMENTS = '{"city": "Paris"}'
PROMPT, COMPLETION = 1000, 500


def _decide(tools: bool, tool_done: bool) -> str | None:
    """The text to answer, or None for a tool call."""
    if tools and not tool_done:
        return None
    return AFTER_TOOL if tool_done else ANSWER


def sse(events: list[tuple[str | None, Any]]) -> bytes:
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
    return await _send(request, sse(events), True)


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
    return await _send(request, sse(events), True)


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
    return await _send(request, sse([(None, chunk), (None, error)]), True)


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
    return await _send(request, sse(events), True)


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
    return await _send(request, sse(events), True)
