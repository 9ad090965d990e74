"""The OpenAI wire format at the edge: error bodies, status-to-type mapping, raw ASGI replies.

Errors take OpenAI's shape, ``{"error": {"message", "type", "code", "param"}}``, with the
statuses the official SDKs key their retry logic on (429 with Retry-After, 5xx); a 401 or a
403 for a missing scope carries RFC 6750's ``WWW-Authenticate`` (the code
``insufficient_scope`` and the header both name what was missing)."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import orjson

from modelyard.api.security import challenge
from modelyard.errors import BadRequest, ModelyardError, RequestTimeout
from modelyard.gateway import idempotency
from modelyard.gateway.call import Call
from modelyard.gateway.deadlines import Deadlines

Send = Any
Receive = Any

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
Headers = list[tuple[bytes, bytes]]
CLIENT_ID_MAX = 100  # x-client-request-id / x-request-id, as stored (usage_events)
IDEMPOTENCY_KEY_MAX = 255


def error_body(status: int, code: str, message: str, param: str | None = None) -> bytes:
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return orjson.dumps(
        {"error": {"message": message, "type": kind, "code": code.lower(), "param": param}}
    )


def error_reply(exc: ModelyardError) -> tuple[int, bytes, Headers]:
    param = exc.details.get("param") if isinstance(exc.details.get("param"), str) else None
    headers: Headers = []
    retry_after = getattr(exc, "retry_after", None)
    if exc.status == 429 or retry_after is not None:
        seconds = max(1, math.ceil(retry_after or 1))
        headers.append((b"retry-after", str(seconds).encode()))
    elif exc.code == idempotency.CODE:  # a retry would meet the same refusal
        headers.append((b"x-should-retry", b"false"))
    elif exc.status in (401, 403):  # RFC 6750: which scope was missing, for OAuth clients
        asks = challenge(exc)
        if asks is not None:
            headers.append((b"www-authenticate", asks.encode()))
    return exc.status, error_body(exc.status, exc.code, exc.message, param), headers


async def send_json(send: Send, status: int, body: bytes, headers: Headers) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def read_body(
    receive: Receive, limit: int, timeout_s: float, deadlines: Deadlines
) -> bytes | None:
    """The request body, or None when it exceeds ``limit`` bytes; RequestTimeout (408) when
    it has not all arrived within ``timeout_s`` (a stalled or partial body), kept by
    ``deadlines`` (no timer per request)."""
    chunks: list[bytes] = []
    size = 0
    with deadlines.guard(timeout_s) as expired:
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return b""
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
        except asyncio.CancelledError:
            if not expired():
                raise
    raise RequestTimeout(
        f"the request body did not arrive within {timeout_s:g} s",
        details={"timeout_s": timeout_s},
    )


def overhead(started: float, upstream_ms: float) -> tuple[bytes, bytes]:
    spent = (time.perf_counter() - started) * 1000 - upstream_ms
    return b"x-modelyard-overhead-ms", f"{max(spent, 0.0):.3f}".encode()


def caller_id(raw: bytes | None, header: str, most: int) -> str | None:
    """An id the caller chose (a correlation id, an Idempotency-Key) as it is kept: 1 to
    ``most`` printable ASCII characters, else 400 naming the header; empty means none."""
    if not raw:
        return None
    if len(raw) > most or not raw.isascii() or not (text := raw.decode()).isprintable():
        raise BadRequest(
            f"the {header} header must be at most {most} printable ASCII characters "
            f"(it has {len(raw)} bytes); send a shorter id, or none",
            details={"param": header},
        )
    return text


def response_headers(call: Call, started: float) -> Headers:
    headers: Headers = [(b"x-request-id", call.request_id.encode())]
    if call.client_request_id is not None:
        headers.append((b"x-client-request-id", call.client_request_id.encode()))
    if call.candidate is not None:
        headers.append((b"x-modelyard-provider", call.candidate.provider.name.encode()))
        headers.append((b"x-modelyard-model", call.candidate.model.model_id.encode()))
    headers.append((b"x-modelyard-attempts", b"%d" % call.attempts))
    if call.warning:
        headers.append((b"x-modelyard-warning", call.warning.encode()))
    if call.capped is not None:  # the balance paid for fewer tokens than asked
        headers.append((b"x-modelyard-max-tokens-capped", b"%d" % call.capped))
    if call.window is not None:
        headers += call.window.header_pairs()
    headers.append(overhead(started, call.upstream_ms))
    return headers
