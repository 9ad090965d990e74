"""OpenAI's Responses API: ``POST /v1/responses`` (JSON or an SSE stream of typed events),
``GET`` and ``DELETE /v1/responses/{id}``, ``GET /v1/responses/{id}/input_items``.

A request is checked (:mod:`modelyard.gateway.params_responses`), its context expanded from
the stored turns ``previous_response_id`` names (:mod:`modelyard.usage.stored_responses`),
and made a chat call (:func:`modelyard.gateway.intake.chat_call`: resolution, the caller's
plan, limits, credits, retries, fallback and usage as for chat; the usage row's meta says
``api: responses``). Each candidate is asked in its own way: a provider of kind ``openai``
gets the Responses body at its ``/responses``, with the whole context as ``input`` and
``store: false`` (it never sees this server's ids); any other kind gets the chat translation
(:mod:`modelyard.adapters.responses_wire`), its answer turned back into a response object.
The answer is stored unless ``store`` is false; a database failure while storing is logged
and the caller answered all the same.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

from modelyard.adapters import responses_wire as wire
from modelyard.adapters.base import StreamChunk, Target, Usage
from modelyard.adapters.openai import ADAPTER as OPENAI
from modelyard.adapters.responses_events import events
from modelyard.api.openai import responses_stream
from modelyard.api.openai.inbound import Inbound
from modelyard.api.openai.wire import response_headers
from modelyard.errors import BadRequest, NotFound
from modelyard.gateway import params_responses, request
from modelyard.gateway.call import Attempt, Call
from modelyard.gateway.intake import chat_call
from modelyard.gateway.pipeline import Opener
from modelyard.gateway.resolve import Candidate
from modelyard.kinds.base import adapter_for

Json = dict[str, Any]
log = logging.getLogger("modelyard.gateway")
NATIVE = "openai"  # the provider kind that speaks the Responses API itself
PREFIX = "/v1/responses/"
Answer = tuple[Json, Usage]  # the response object and the usage it is charged


class Turn:
    """One Responses request on its way: the body as sent, its own input items, the whole
    context (earlier turns first) and the response id it is answered under."""

    __slots__ = ("body", "call", "context", "own", "response_id")

    def __init__(self, body: Json, own: list[Json], context: list[Json], rid: str) -> None:
        self.body, self.own, self.context, self.response_id = body, own, context, rid
        self.call: Call | None = None

    @property
    def stored(self) -> bool:
        return self.body.get("store") is not False

    def native_body(self, model: str, capped: int | None) -> Json:
        """The body an OpenAI upstream gets: the whole context, none of this server's ids."""
        skip = ("previous_response_id", "store", "stream", "model", "input")
        out = {k: v for k, v in self.body.items() if k not in skip and v is not None}
        out.update(model=model, input=[*_portable(self.context), *_portable(self.own)])
        out["store"] = False
        if capped is not None:
            out["max_output_tokens"] = capped
        return out

    def restamped(self, response: Json) -> Json:
        """An OpenAI upstream's response object under this server's id and settings."""
        response = dict(response)
        response["id"] = self.response_id
        response["previous_response_id"] = self.body.get("previous_response_id")
        response["store"] = self.stored
        return response

    def skeleton(self, candidate: Candidate) -> Json:
        return wire.skeleton(self.response_id, self.body, candidate.model.model_id)


def _portable(items: list[Json]) -> list[Json]:
    """Items an upstream that stores nothing accepts: an assistant message as its text,
    function calls without their item ids, reasoning left out."""
    out: list[Json] = []
    for item in items:
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "reasoning":
            continue
        if kind == "message" and "id" in item and item.get("role") != "assistant":
            out.append({k: v for k, v in item.items() if k not in ("id", "status")})
        elif kind == "message" and "id" in item:
            content = item.get("content")
            if isinstance(content, list):
                content = "".join(
                    str(p.get("text") or p.get("refusal") or "")
                    for p in content
                    if isinstance(p, dict)
                )
            out.append({"role": item.get("role"), "content": content})
        elif kind in ("function_call", "function_call_output"):
            out.append({k: v for k, v in item.items() if k not in ("id", "status")})
        else:
            out.append(item)
    return out


async def create(inbound: Inbound) -> None:
    body = await inbound.json_body()
    params_responses.check_responses(body)
    own = wire.input_items(body.get("input"))
    context: list[Json] = []
    previous = body.get("previous_response_id")
    if previous is not None:
        for row in await inbound.gateway.responses.chain(inbound.key.user_id, previous):
            context += row.request.get("input") or []
            context += wire.as_input(row.response.get("output"))
    if not own and not context:
        raise BadRequest("input: at least one input item is required", details={"param": "input"})
    turn = Turn(body, own, context, "resp_" + inbound.request_id.removeprefix("req_"))
    call = turn.call = chat_call(
        inbound.gateway,
        inbound.snap,
        inbound.key,
        inbound.request_id,
        wire.chat_body(body, [*context, *own]),
        client_request_id=inbound.client_id,
        idempotency_key=inbound.idempotency_key,
        meta={"api": "responses"},
    )
    if request.wants_stream(body):
        await responses_stream.run(
            inbound, call, _opener(inbound, turn), lambda r: _store(inbound, turn, r)
        )
        return
    response, _usage = await call.run(_attempt(inbound, turn), lambda answer: answer[1])
    await _store(inbound, turn, response)
    await inbound.answer(orjson.dumps(response), response_headers(call, inbound.started))


def _attempt(inbound: Inbound, turn: Turn) -> Attempt[Answer]:
    """How a candidate is asked: an OpenAI provider natively, any other through chat."""
    pipeline = inbound.gateway.pipeline

    async def attempt(candidate: Candidate, target: Target, upstream: Json) -> Answer:
        call = turn.call
        assert call is not None
        http = pipeline.http(candidate)
        if candidate.provider.kind == NATIVE:
            native = turn.native_body(upstream["model"], call.capped)
            document, usage = await OPENAI.responses(http, target, native)
            if usage.estimated:
                usage = Usage(call.prompt, usage.completion_tokens, estimated=True)
            return turn.restamped(document), usage
        result = await adapter_for(candidate.provider.kind).chat(http, target, upstream)
        model = candidate.model.model_id
        response = wire.response_of(turn.response_id, turn.body, result.body, result.usage, model)
        return response, result.usage

    return attempt


def _opener(inbound: Inbound, turn: Turn) -> Opener:
    """How a candidate's stream is opened: Responses events either way."""
    pipeline = inbound.gateway.pipeline

    def opener(candidate: Candidate, target: Target, upstream: Json) -> AsyncIterator[StreamChunk]:
        call = turn.call
        assert call is not None
        http = pipeline.http(candidate)
        if candidate.provider.kind == NATIVE:
            native = turn.native_body(upstream["model"], call.capped)
            return _restamped(turn, OPENAI.responses_stream(http, target, native))
        chunks = adapter_for(candidate.provider.kind).stream(http, target, upstream)
        return events(chunks, turn.skeleton(candidate), call.prompt)

    return opener


async def _restamped(turn: Turn, chunks: AsyncIterator[StreamChunk]) -> AsyncIterator[StreamChunk]:
    """An OpenAI upstream's events, their response objects under this server's id."""
    async for chunk in chunks:
        response = chunk.chunk.get("response")
        if isinstance(response, dict):
            event = {**chunk.chunk, "response": turn.restamped(response)}
            yield StreamChunk(event, chunk.usage, more=chunk.more)
        else:
            yield chunk


async def _store(inbound: Inbound, turn: Turn, response: Json) -> None:
    """Keep the answer for ``previous_response_id`` and ``GET``, unless ``store`` is false;
    a failure is logged, never the caller's."""
    if not turn.stored:
        return
    days = int(inbound.snap.settings.get("responses.retention_days") or 30)
    own = [_with_id(item) for item in turn.own]
    saved = {"instructions": turn.body.get("instructions"), "input": own}
    try:
        await inbound.gateway.responses.save(
            response, saved, inbound.key.user_id, inbound.key.key_id, days
        )
    except Exception as exc:  # the answer is computed: the caller gets it all the same
        log.warning(
            "response %s not stored (request %s): %s",
            turn.response_id,
            inbound.request_id,
            type(exc).__name__,
        )


def _with_id(item: Json) -> Json:
    return item if "id" in item else {"id": wire.item_id("msg"), **item}


def _response_id(inbound: Inbound) -> tuple[str, str]:
    """The id in ``/v1/responses/{id}[/input_items]`` and what follows it."""
    rest = inbound.path[len(PREFIX) :]
    response_id, _, tail = rest.partition("/")
    if not response_id:
        raise NotFound(f"{inbound.method} {inbound.path} is not an endpoint of this API")
    return response_id, tail


async def retrieve(inbound: Inbound) -> None:
    response_id, tail = _response_id(inbound)
    row = await inbound.gateway.responses.get(inbound.key.user_id, response_id)
    if tail == "input_items":
        items = row.request.get("input") or []
        page = {
            "object": "list",
            "data": list(reversed(items)),  # newest first, as OpenAI lists them by default
            "first_id": items[-1].get("id") if items else None,
            "last_id": items[0].get("id") if items else None,
            "has_more": False,
        }
        await inbound.answer(orjson.dumps(page))
    elif tail:
        raise NotFound(f"{inbound.method} {inbound.path} is not an endpoint of this API")
    else:
        await inbound.answer(orjson.dumps(row.response))


async def remove(inbound: Inbound) -> None:
    response_id, tail = _response_id(inbound)
    if tail:
        raise NotFound(f"{inbound.method} {inbound.path} is not an endpoint of this API")
    await inbound.gateway.responses.delete(inbound.key.user_id, response_id)
    body = {"id": response_id, "object": "response", "deleted": True}
    await inbound.answer(orjson.dumps(body))
