"""A streamed ``POST /v1/responses``: the call's Responses events as Server-Sent Events.

The events come from the candidate's opener (an OpenAI upstream's own, or a chat stream
translated by :mod:`modelyard.adapters.responses_events`); here each gets its
``sequence_number`` (0, 1, ... in the order sent) and is written as ``event: <type>`` and
``data: <json>``. Retries and fallbacks happen before the first event; after it, an upstream
failure ends the stream with ``response.failed`` naming the error. The finished response
(``response.completed`` or ``response.incomplete``) is handed to ``keep`` before the stream's
last write, so a client that asks for it at once finds it stored. A client that disconnects
cancels the upstream request and the call settles ``aborted``, as chat streams do (the
watcher and writer of :mod:`modelyard.api.openai.stream`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from modelyard.api.openai.inbound import Inbound
from modelyard.api.openai.stream import Watch, _write
from modelyard.api.openai.wire import response_headers
from modelyard.errors import ModelyardError, ShuttingDown
from modelyard.faults import as_error
from modelyard.gateway.call import Call
from modelyard.gateway.pipeline import Opener
from modelyard.gateway.streaming import Stream

Json = dict[str, Any]
FINAL = ("response.completed", "response.incomplete")
SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
log = logging.getLogger("modelyard.gateway")


class _Relay:
    """What has been sent so far: the events' numbering, the latest response object."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.sequence = 0
        self.response: Json | None = None  # the latest lifecycle event's
        self.final: Json | None = None  # the finished response

    def encode(self, event: Json) -> bytes:
        kind = str(event.get("type") or "")
        response = event.get("response")
        if isinstance(response, dict):
            self.response = response
            if kind in FINAL:
                self.final = response
        elif kind == "response.output_text.delta" and isinstance(event.get("delta"), str):
            self.stream.text.append(event["delta"])  # for an estimate if no usage comes
        event = {**event, "sequence_number": self.sequence}
        self.sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"

    async def pump(self, send: Any, pending: list[bytes]) -> None:
        """Write the events on, those that came in one read upstream in one write."""
        async for item in self.stream.chunks():
            pending.append(self.encode(item.chunk))
            if not item.more:
                await _write(send, pending)

    def failed(self, code: str, message: str) -> bytes:
        response = dict(self.response or {})
        response["status"] = "failed"
        response["error"] = {"code": code.lower(), "message": message}
        return self.encode({"type": "response.failed", "response": response})


async def run(
    inbound: Inbound, call: Call, opener: Opener, keep: Callable[[Json], Awaitable[None]]
) -> None:
    """Relay the call's events. Raises only before the response starts (the handler answers
    that as a JSON error); after it, a failure ends the body with ``response.failed``."""
    send = inbound.send
    stream = await call.stream(opener)
    relay = _Relay(stream)
    begun = False
    status, code = "ok", None
    pending: list[bytes] = []
    watch = Watch(inbound.receive, call.gateway.streams)
    try:  # from here on the call is recorded, and all it holds released, whatever happens
        headers = response_headers(call, inbound.started)
        await send({"type": "http.response.start", "status": 200, "headers": [*SSE, *headers]})
        begun = True
        await relay.pump(send, pending)
    except asyncio.CancelledError:
        status = "aborted"  # the client left, or the server stops
        if not watch.absorbs(begun):
            raise
        if watch.drained:  # the drain deadline passed: response.failed, then the end
            code = ShuttingDown.code
            pending.append(relay.failed(code, ShuttingDown().message))
    except Exception as exc:  # the provider failed mid-stream, or a fault: tell the client, end
        error = as_error(exc)
        status, code = "error", error.code
        if not begun:
            raise
        if not isinstance(exc, ModelyardError):
            log.exception("responses stream relay failed (request %s)", call.request_id)
        pending.append(relay.failed(error.code, error.message))
    finally:
        watch.stop()
        try:
            await stream.close()
        finally:
            stream.finish(status, code)
    if relay.final is not None and status == "ok":
        await keep(relay.final)
    if not watch.gone.is_set():
        await _end(send, pending, call.request_id)


async def _end(send: Any, pending: list[bytes], request_id: str) -> None:
    try:
        await _write(send, pending or [b""], more=False)
    except Exception as exc:  # settled already; nothing more to tell anyone
        log.info("stream end not sent (request %s): %s", request_id, type(exc).__name__)
