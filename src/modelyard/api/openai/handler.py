"""The OpenAI-compatible endpoint, ``/v1``: a lean ASGI handler that the app runs before any
FastAPI routing or middleware (measured: a FastAPI route costs 1.5-1.9x a bare handler).

Routes: ``POST /v1/chat/completions`` (JSON or SSE stream), ``POST /v1/embeddings``,
``GET /v1/models``, ``GET /v1/models/{id}``. Every response carries ``x-request-id`` (made
here: the usage row's key, whatever the caller sends) and ``x-modelyard-overhead-ms``; the
caller's own id (``x-client-request-id``, else ``x-request-id``) is echoed as
``x-client-request-id`` and kept on the usage row for correlation; ``Idempotency-Key`` is
handed to the call (:mod:`modelyard.gateway.idempotency`). Errors take OpenAI's shape.
Another method on one of them is a 405 with ``Allow``. They are in the app's OpenAPI
through :mod:`modelyard.api.openai.spec`.
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
    CLIENT_ID_MAX,
    IDEMPOTENCY_KEY_MAX,
    Headers,
    caller_id,
    error_body,
    error_reply,
    overhead,
    read_body,
    response_headers,
    send_json,
)
from modelyard.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    NotReady,
    PayloadTooLarge,
    Unauthenticated,
)
from modelyard.faults import as_error
from modelyard.gateway import request
from modelyard.gateway.intake import chat_call, embedding_call
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
    request_id = ids.request_id()  # never the caller's: it keys the usage row
    extra: Headers = [(b"x-request-id", request_id.encode())]
    authorization, given, given_as, idempotency = _headers(scope)
    try:
        client_id = caller_id(given, given_as, CLIENT_ID_MAX)
        if client_id is not None:
            extra.append((b"x-client-request-id", client_id.encode()))
        snap = gateway.snapshot()
        key = authenticate(gateway, snap, authorization)
        method, path = scope["method"], scope["path"]
        if path in CALLS and method == "POST":
            idem = caller_id(idempotency, "Idempotency-Key", IDEMPOTENCY_KEY_MAX)
            ids_ = (client_id, idem)
            await call(gateway, snap, key, request_id, ids_, path, receive, send, started)
            return
        if path == "/v1/models" and method == "GET":
            body = list_models(snap, key)
        elif path.startswith("/v1/models/") and method == "GET":
            body = get_model(snap, key, path.removeprefix("/v1/models/"))
        elif (allow := _allowed(path)) is not None:
            await _not_allowed(send, method, path, allow, [*extra, overhead(started, 0.0)])
            return
        else:
            raise NotFound(
                f"{method} {path} is not an endpoint of this API", code="UNKNOWN_ENDPOINT"
            )
        await send_json(send, 200, body, [*extra, overhead(started, 0.0)])
    except Exception as exc:  # an error (ours or the upstream's), or a fault: JSON all the same
        error = as_error(exc)
        status, body, headers = error_reply(error)
        # Code and status only: an upstream's message is the caller's business, not the log's;
        # a fault of our own carries its traceback (never into the reply).
        bug = error is not exc and status == 500
        log.log(
            logging.ERROR if bug else logging.WARNING if status >= 500 else logging.INFO,
            "%s %s -> %d %s (request %s)%s",
            scope["method"],
            scope["path"],
            status,
            error.code,
            request_id,
            "" if error is exc else f": {type(exc).__name__}",
            exc_info=exc if bug else None,
        )
        await send_json(send, status, body, [*extra, *headers, overhead(started, 0.0)])


def _allowed(path: str) -> str | None:
    """The method ``path`` answers, when it is an endpoint of this API."""
    if path in CALLS:
        return "POST"
    if path == "/v1/models" or path.startswith("/v1/models/"):
        return "GET"
    return None


async def _not_allowed(send: Any, method: str, path: str, allow: str, headers: Headers) -> None:
    """405 with ``Allow``, in OpenAI's error shape."""
    message = f"{method} is not allowed on {path}; use {allow}"
    body = error_body(405, "method_not_allowed", message)
    await send_json(send, 405, body, [(b"allow", allow.encode()), *headers])


def _headers(scope: dict[str, Any]) -> tuple[str, bytes | None, str, bytes | None]:
    """From one pass over the headers: the ``authorization`` value, the caller's own request
    id and the header it came in (``x-client-request-id``, else ``x-request-id``), and the
    ``idempotency-key``, the last two as sent."""
    client_id = request_id = idempotency = authorization = None
    for name, value in scope["headers"]:  # the first of each counts
        if name == b"authorization":
            authorization = authorization or value
        elif name == b"x-client-request-id":
            client_id = client_id or value
        elif name == b"x-request-id":
            request_id = request_id or value
        elif name == b"idempotency-key":
            idempotency = idempotency or value
    return (
        authorization.decode("latin-1") if authorization else "",
        client_id or request_id,
        "x-client-request-id" if client_id else "x-request-id",
        idempotency,
    )


def authenticate(gateway: Gateway, snap: Snapshot, value: str) -> KeyEntry:
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("send your modelyard API key as 'Authorization: Bearer <key>'")
    key = snap.authenticate(token.strip(), gateway.clock())
    if "inference" not in key.scopes:
        raise Forbidden("this API key lacks the 'inference' scope")
    return key


async def _json_body(receive: Any, gateway: Gateway) -> dict[str, Any]:
    limit, timeout_s = request.MAX_BODY_BYTES, gateway.body_timeout_s
    raw = await read_body(receive, limit, timeout_s, gateway.deadlines)
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
    given: tuple[str | None, str | None],
    path: str,
    receive: Any,
    send: Any,
    started: float,
) -> None:
    """A chat completion (JSON or a stream) or embeddings: one call through the gateway;
    ``given``: the caller's own request id and Idempotency-Key."""
    body = await _json_body(receive, gateway)
    client_id, idempotency = given
    result: ChatResult | EmbeddingResult
    if path == CHAT:
        chat = chat_call(
            gateway,
            snap,
            key,
            request_id,
            body,
            client_request_id=client_id,
            idempotency_key=idempotency,
        )
        if request.wants_stream(body):
            await stream.run(chat, body, receive, send, started)
            return
        made, result = chat, await chat.chat()
    else:
        made = embedding_call(
            gateway,
            snap,
            key,
            request_id,
            body,
            client_request_id=client_id,
            idempotency_key=idempotency,
        )
        result = await made.embed()
    await send_json(send, 200, _encoded(result), response_headers(made, started))


def _encoded(result: ChatResult | EmbeddingResult) -> bytes:
    """The reply's bytes: the upstream's own where it answered in OpenAI's format."""
    return result.raw if result.raw is not None else orjson.dumps(result.body)
