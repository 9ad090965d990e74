"""The ``/v1`` endpoints: a lean ASGI handler that the app runs before any FastAPI routing or
middleware (measured: a FastAPI route costs 1.5-1.9x a bare handler).

The routes (:data:`ROUTES`, a :class:`~modelyard.api.openai.routes.Routes` table) are
OpenAI's chat completions and embeddings (:mod:`modelyard.api.openai.chat`) and models
(:mod:`modelyard.api.openai.models`). The caller's API key or OAuth access token is taken as
clients send it: ``Authorization: Bearer``, ``x-api-key`` (Anthropic's SDKs) or ``api-key``
(Azure style).
Every response carries ``x-request-id`` (made here: the usage row's key, whatever the caller
sends) and ``x-modelyard-overhead-ms``; the caller's own id (``x-client-request-id``, else
``x-request-id``) is echoed as ``x-client-request-id`` and kept on the usage row for
correlation; ``Idempotency-Key`` is handed to the call
(:mod:`modelyard.gateway.idempotency`). Errors take the route's shape (OpenAI's unless the
route says otherwise). Another method on a route is a 405 with ``Allow``. The routes are in
the app's OpenAPI through :mod:`modelyard.api.openai.spec`.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

import orjson

from modelyard import ids
from modelyard.api.anthropic import messages as anthropic_messages
from modelyard.api.anthropic import wire as anthropic_wire
from modelyard.api.openai import chat, completions, models, responses
from modelyard.api.openai.inbound import Inbound
from modelyard.api.openai.routes import Route, Routes
from modelyard.api.openai.wire import (
    CLIENT_ID_MAX,
    IDEMPOTENCY_KEY_MAX,
    Headers,
    caller_id,
    error_body,
    error_reply,
    overhead,
    send_json,
)
from modelyard.errors import InsufficientScope, NotFound, NotReady, Unauthenticated
from modelyard.faults import as_error
from modelyard.gateway.service import Gateway
from modelyard.gateway.snapshot import KeyEntry, Snapshot
from modelyard.registry.oauth_tokens import ACCESS_PREFIX
from modelyard.registry.scopes import LLM_INFERENCE, MODELS_READ, grants
from modelyard.telemetry import logs

log = logging.getLogger("modelyard.gateway")
MODEL_SHOWN = 100  # characters of the model asked for in a failure's log line

ROUTES = Routes()
ROUTES.add("/v1/chat/completions", Route({"POST": chat.chat}))
ROUTES.add("/v1/embeddings", Route({"POST": chat.embeddings}))
ROUTES.add("/v1/completions", Route({"POST": completions.completions}))
ROUTES.add("/v1/models", Route({"GET": models.listed}, scope=MODELS_READ))
ROUTES.add("/v1/models/", Route({"GET": models.one}, scope=MODELS_READ))
ROUTES.add(
    "/v1/messages",
    Route({"POST": anthropic_messages.messages}, error_shape=anthropic_wire.error_body),
)
ROUTES.add(
    "/v1/messages/count_tokens",
    Route({"POST": anthropic_messages.count_tokens}, error_shape=anthropic_wire.error_body),
)
ROUTES.add("/v1/responses", Route({"POST": responses.create}))
ROUTES.add("/v1/responses/", Route({"GET": responses.retrieve, "DELETE": responses.remove}))


async def serve(app: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/v1/...``, handed over by the app before any middleware runs (see ``api/app.py``)."""
    gateway = getattr(app.state, "gateway", None)
    if gateway is None:  # the app was not started through its lifespan
        status, body, headers = error_reply(NotReady("the gateway is not running"))
        await send_json(send, status, body, headers)
        return
    tracing = gateway.tracing
    if tracing is None:
        await handle(gateway, scope, receive, send)
        return
    name = f"{scope['method']} {ROUTES.template(scope['path'])}"
    await tracing.serve(partial(handle, gateway), name, scope, receive, send)


async def handle(gateway: Gateway, scope: dict[str, Any], receive: Any, send: Any) -> None:
    started = time.perf_counter()
    request_id = ids.request_id()  # never the caller's: it keys the usage row
    if gateway.log_ids:  # JSON log lines carry it (telemetry/logs.py)
        logs.REQUEST_ID.set(request_id)
    extra: Headers = [(b"x-request-id", request_id.encode())]
    method, path = scope["method"], scope["path"]
    route = ROUTES.find(path)
    shape = route.error_shape if route is not None else error_body
    key: KeyEntry | None = None
    inbound: Inbound | None = None
    try:
        credential, given, given_as, idempotency = _headers(scope)
        client_id = caller_id(given, given_as, CLIENT_ID_MAX)
        if client_id is not None:
            extra.append((b"x-client-request-id", client_id.encode()))
        snap = gateway.snapshot()
        needed = route.scope if route else LLM_INFERENCE
        key = authenticate(gateway, snap, credential, needed) or await first_use(
            gateway, snap, credential, needed
        )
        run = route.methods.get(method) if route is not None else None
        if route is None:
            raise NotFound(
                f"{method} {path} is not an endpoint of this API", code="UNKNOWN_ENDPOINT"
            )
        if run is None:
            await _not_allowed(send, method, path, route, [*extra, overhead(started, 0.0)])
            return
        idem = caller_id(idempotency, "Idempotency-Key", IDEMPOTENCY_KEY_MAX)
        inbound = Inbound(
            gateway, snap, key, request_id, client_id, idem, method, path, scope, receive, send,
            started, extra,
        )  # fmt: skip
        await run(inbound)
    except Exception as exc:  # an error (ours or the upstream's), or a fault: JSON all the same
        error = as_error(exc)
        status, _body, headers = error_reply(error)
        # Code and status, the caller and the model asked for: an upstream's message is the
        # caller's business, not the log's, and the key is never in it; a fault of our own
        # carries its traceback (never into the reply).
        bug = error is not exc and status == 500
        log.log(
            logging.ERROR if bug else logging.WARNING if status >= 500 else logging.INFO,
            "%s %s -> %d %s (request %s) user=%s model=%s%s",
            method,
            path,
            status,
            error.code,
            request_id,
            "-" if key is None else key.user_id,
            "-" if inbound is None or inbound.model is None else shown(inbound.model),
            "" if error is exc else f": {type(exc).__name__}",
            exc_info=exc if bug else None,
        )
        param = error.details.get("param")
        body = shape(status, error.code, error.message, param if isinstance(param, str) else None)
        await send_json(send, status, body, [*extra, *headers, overhead(started, 0.0)])


async def _not_allowed(send: Any, method: str, path: str, route: Route, headers: Headers) -> None:
    """405 with ``Allow``, in the route's error shape."""
    message = f"{method} is not allowed on {path}; use {route.allow}"
    body = route.error_shape(405, "method_not_allowed", message, None)
    await send_json(send, 405, body, [(b"allow", route.allow.encode()), *headers])


def shown(text: str) -> str:
    """A caller's text in a log line: quoted, escaped (no line of its own), at most 100
    characters of it."""
    return orjson.dumps(text[:MODEL_SHOWN]).decode()


def _headers(scope: dict[str, Any]) -> tuple[str, bytes | None, str, bytes | None]:
    """From one pass over the headers: the caller's credential (``authorization``, else
    ``x-api-key`` or ``api-key`` as ``Bearer <key>``), the caller's own request id and the
    header it came in (``x-client-request-id``, else ``x-request-id``), and the
    ``idempotency-key``, the last two as sent."""
    client_id = request_id = idempotency = authorization = api_key = None
    for name, value in scope["headers"]:  # the first of each counts
        if name == b"authorization":
            authorization = authorization or value
        elif name in (b"x-api-key", b"api-key"):
            api_key = api_key or value
        elif name == b"x-client-request-id":
            client_id = client_id or value
        elif name == b"x-request-id":
            request_id = request_id or value
        elif name == b"idempotency-key":
            idempotency = idempotency or value
    if authorization:
        credential = authorization.decode("latin-1")
    elif api_key:
        credential = "Bearer " + api_key.decode("latin-1")
    else:
        credential = ""
    return (
        credential,
        client_id or request_id,
        "x-client-request-id" if client_id else "x-request-id",
        idempotency,
    )


def authenticate(gateway: Gateway, snap: Snapshot, value: str, scope: str) -> KeyEntry | None:
    """The caller behind an API key (``myk_``, in the snapshot) or an OAuth access token
    (``myat_``, in the gateway's token cache: a dict lookup once it is known), held to the
    route's ``scope``; None for an access token this replica does not know yet under this
    snapshot (then :func:`first_use` asks the database, once)."""
    token = _bearer(value)
    if token.startswith(ACCESS_PREFIX):
        key = gateway.tokens.known(token, snap.generation, gateway.clock())
        if key is None:
            return None
    else:
        key = snap.authenticate(token, gateway.clock())
    if not grants(key.scopes, scope):
        raise InsufficientScope(scope)
    return key


async def first_use(gateway: Gateway, snap: Snapshot, value: str, scope: str) -> KeyEntry:
    """:func:`authenticate` for an access token not known yet: from the database."""
    token = _bearer(value)
    key = await gateway.tokens.first_use(token, snap.generation, gateway.clock())
    if not grants(key.scopes, scope):
        raise InsufficientScope(scope)
    return key


def _bearer(value: str) -> str:
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(
            "send your modelyard API key or access token as 'Authorization: Bearer <key>', "
            "'x-api-key: <key>' or 'api-key: <key>'"
        )
    return token
