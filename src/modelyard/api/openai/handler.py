"""The OpenAI-compatible endpoint, ``/v1``: a lean ASGI handler that the app runs before any
FastAPI routing or middleware (measured: a FastAPI route costs 1.5-1.9x a bare handler).

Routes: ``POST /v1/chat/completions`` (JSON or SSE stream), ``POST /v1/embeddings``,
``GET /v1/models``, ``GET /v1/models/{id}``. Every response carries ``x-request-id`` and
``x-modelyard-overhead-ms``; errors take OpenAI's shape.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from modelyard import ids
from modelyard.adapters.base import ChatResult, EmbeddingResult
from modelyard.api.openai import stream
from modelyard.api.openai.models import get_model, list_models
from modelyard.api.openai.wire import (
    Headers,
    error_reply,
    overhead,
    read_body,
    response_headers,
    send_json,
)
from modelyard.errors import (
    BadRequest,
    Forbidden,
    ModelyardError,
    NotFound,
    NotReady,
    PayloadTooLarge,
    Unauthenticated,
)
from modelyard.gateway import request
from modelyard.gateway.call import chat_call, embedding_call
from modelyard.gateway.service import Gateway
from modelyard.gateway.snapshot import KeyEntry, Snapshot

log = logging.getLogger("modelyard.gateway")
CHAT = "/v1/chat/completions"
CALLS = frozenset({CHAT, "/v1/embeddings"})


async def serve(app: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/v1/...``, handed over by the app before any middleware runs (see ``api/app.py``)."""
    gateway = getattr(app.state, "gateway", None)
    if gateway is None:  # the app was not started through its lifespan
        status, body, headers = error_reply(NotReady("the gateway is not running"))
        await send_json(send, status, body, headers)
        return
    await handle(gateway, scope, receive, send)


async def handle(gateway: Gateway, scope: dict[str, Any], receive: Any, send: Any) -> None:
    started = time.perf_counter()
    given, authorization = _headers(scope)
    request_id = (given or ids.request_id())[:100]
    extra: Headers = [(b"x-request-id", request_id.encode())]
    try:
        snap = gateway.snapshot()
        key = authenticate(gateway, snap, authorization)
        method, path = scope["method"], scope["path"]
        if path in CALLS and method == "POST":
            await call(gateway, snap, key, request_id, path, receive, send, started)
            return
        if path == "/v1/models" and method == "GET":
            body = list_models(snap, key)
        elif path.startswith("/v1/models/") and method == "GET":
            body = get_model(snap, key, path.removeprefix("/v1/models/"))
        else:
            raise NotFound(
                f"{method} {path} is not an endpoint of this API", code="UNKNOWN_ENDPOINT"
            )
        await send_json(send, 200, body, [*extra, overhead(started, 0.0)])
    except ModelyardError as exc:
        status, body, headers = error_reply(exc)
        # Code and status only: an upstream's message is the caller's business, not the log's.
        log.log(
            logging.WARNING if status >= 500 else logging.INFO,
            "%s %s -> %d %s (request %s)",
            scope["method"],
            scope["path"],
            status,
            exc.code,
            request_id,
        )
        await send_json(send, status, body, [*extra, *headers, overhead(started, 0.0)])


def _headers(scope: dict[str, Any]) -> tuple[str | None, str]:
    """The caller's request id (``x-request-id``, else ``idempotency-key``) and the
    ``authorization`` value, from one pass over the headers."""
    request_id = idempotency = authorization = None
    for name, value in scope["headers"]:  # the first of each counts
        if name == b"authorization":
            authorization = authorization or value
        elif name == b"x-request-id":
            request_id = request_id or value
        elif name == b"idempotency-key":
            idempotency = idempotency or value
    given = request_id or idempotency
    return (
        given.decode("latin-1") if given else None,
        authorization.decode("latin-1") if authorization else "",
    )


def authenticate(gateway: Gateway, snap: Snapshot, value: str) -> KeyEntry:
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("send your modelyard API key as 'Authorization: Bearer <key>'")
    key = snap.authenticate(token.strip(), gateway.clock())
    if "inference" not in key.scopes:
        raise Forbidden("this API key lacks the 'inference' scope")
    return key


async def _json_body(receive: Any, timeout_s: float) -> dict[str, Any]:
    raw = await read_body(receive, request.MAX_BODY_BYTES, timeout_s)
    if raw is None:
        raise PayloadTooLarge(f"the request body exceeds {request.MAX_BODY_BYTES} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


async def call(
    gateway: Gateway,
    snap: Snapshot,
    key: KeyEntry,
    request_id: str,
    path: str,
    receive: Any,
    send: Any,
    started: float,
) -> None:
    """A chat completion (JSON or a stream) or embeddings: one call through the gateway."""
    body = await _json_body(receive, gateway.body_timeout_s)
    result: ChatResult | EmbeddingResult
    if path == CHAT:
        chat = chat_call(gateway, snap, key, request_id, body)
        if request.wants_stream(body):
            await stream.run(chat, body, receive, send, started)
            return
        made, result = chat, await chat.chat()
    else:
        made = embedding_call(gateway, snap, key, request_id, body)
        result = await made.embed()
    await send_json(send, 200, _encoded(result), response_headers(made, started))


def _encoded(result: ChatResult | EmbeddingResult) -> bytes:
    """The reply's bytes: the upstream's own where it answered in OpenAI's format."""
    return result.raw if result.raw is not None else orjson.dumps(result.body)
