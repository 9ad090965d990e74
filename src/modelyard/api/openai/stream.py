"""Streaming chat completions as Server-Sent Events.

Retries and fallbacks happen before the first chunk; after that the stream is the client's.
The usage chunk is forwarded only if the caller asked for it (``stream_options.include_usage``)
but is always recorded; when the provider sends none, usage is estimated from what was
produced. A client that disconnects cancels the upstream request, and the call is recorded as
``aborted`` and charged for what was produced, no more and no less.

:func:`relay` is that relay for any event format: an ingress with its own (Anthropic's
Messages API) gives how a chunk is written, how the body ends and how an error is told.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import orjson

from modelyard.adapters.base import StreamChunk
from modelyard.api.openai.wire import error_body, response_headers
from modelyard.errors import ModelyardError, ShuttingDown
from modelyard.faults import as_error
from modelyard.gateway import request
from modelyard.gateway.call import Call
from modelyard.gateway.drain import Streams
from modelyard.gateway.pipeline import Opener

DONE = b"data: [DONE]\n\n"
log = logging.getLogger("modelyard.gateway")
Encode = Callable[[StreamChunk], "bytes | None"]  # a chunk's event, or None to write nothing
Tell = Callable[[ModelyardError], bytes]  # the event that ends a failed stream


async def run(
    call: Call,
    body: dict[str, Any],
    receive: Any,
    send: Any,
    started: float,
    opener: Opener | None = None,
) -> None:
    """Relay the call's stream of chat chunks (opened by ``opener`` when not by the chat
    adapters: see :meth:`Call.stream`), as :func:`relay` does."""
    encode = partial(_outgoing, include_usage=request.include_usage(body))
    await relay(call, receive, send, started, encode, DONE, _error_event, opener)


def _error_event(error: ModelyardError) -> bytes:
    return b"data: " + error_body(error.status, error.code, error.message) + b"\n\n"


async def relay(
    call: Call,
    receive: Any,
    send: Any,
    started: float,
    encode: Encode,
    end: bytes,
    tell: Tell,
    opener: Opener | None = None,
) -> None:
    """Relay the call's stream (opened by ``opener``, else as a chat stream), each chunk as
    ``encode`` writes it, then ``end``. Raises only before the response starts (the handler
    answers that as a JSON error); after it, a failure ends the body with ``tell(error)``."""
    stream = await call.stream(opener)
    begun = False
    status, code = "ok", None
    pending: list[bytes] = []  # chunks that came in one read upstream go out in one write
    watch = Watch(receive, call.gateway.streams)
    try:  # from here on the call is recorded, and all it holds released, whatever happens
        chunks = stream.chunks()
        headers = response_headers(call, started)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                    *headers,
                ],
            }
        )
        begun = True
        await _relay(chunks, encode, send, pending)
        if end:
            pending.append(end)
    except asyncio.CancelledError:
        status = "aborted"  # the client left, or the server stops
        if not watch.absorbs(begun):
            raise
        if watch.drained:  # the client is told, then the body ends
            code = ShuttingDown.code
            pending.append(tell(ShuttingDown()))
    except Exception as exc:  # the provider failed mid-stream, or a fault: tell the client, end
        error = as_error(exc)
        status, code = "error", error.code
        if not begun:
            raise
        if not isinstance(exc, ModelyardError):  # a fault: logged as one
            log.exception("stream relay failed (request %s)", call.request_id)
        else:  # as the handler logs a failed call: code and status, never the message
            model = call.body.get("model")
            log.info(
                "stream failed -> %d %s (request %s) user=%s model=%s",
                error.status,
                error.code,
                call.request_id,
                call.key.user_id,
                orjson.dumps(model[:100]).decode() if isinstance(model, str) else "-",
            )
        pending.append(tell(error))
    finally:
        watch.stop()
        try:
            await stream.close()
        finally:
            stream.finish(status, code)
    if not watch.gone.is_set():
        try:
            await _write(send, pending, more=False)
        except Exception as exc:  # settled already; nothing more to tell anyone
            log.info("stream end not sent (request %s): %s", call.request_id, type(exc).__name__)


async def _relay(
    chunks: AsyncIterator[StreamChunk], encode: Encode, send: Any, pending: list[bytes]
) -> None:
    """Write the chunks on, those that came in one read upstream in one write."""
    async for item in chunks:
        data = encode(item)
        if data is not None:
            pending.append(data)
        if not item.more and pending:
            await _write(send, pending)


async def _write(send: Any, pending: list[bytes], *, more: bool = True) -> None:
    body = pending[0] if len(pending) == 1 else b"".join(pending)
    pending.clear()
    await send({"type": "http.response.body", "body": body, "more_body": more})


def _outgoing(item: StreamChunk, *, include_usage: bool) -> bytes | None:
    """The event to write for a chunk: as the upstream sent it where it can be, else encoded;
    the usage the caller did not ask for left out, even a null one (it is recorded all the
    same)."""
    chunk = item.chunk
    if item.raw is not None and (include_usage or "usage" not in chunk):
        return b"data: " + item.raw + b"\n\n"
    if not include_usage and "usage" in chunk:
        if not chunk.get("choices"):
            return None  # the usage-only chunk the caller did not ask for
        chunk = {k: v for k, v in chunk.items() if k != "usage"}
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


class Watch:
    """Who may end a relay early, by cancelling its task: the client, by leaving (a watcher
    task reads its disconnect), and the server, when its drain deadline passes
    (:class:`modelyard.gateway.drain.Streams` holds the task until :meth:`stop`)."""

    __slots__ = ("drained", "gone", "streams", "task", "watcher")

    def __init__(self, receive: Any, streams: Streams) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.task, self.streams = task, streams
        self.gone = asyncio.Event()
        self.drained = False  # ended by the server's drain deadline
        streams.tasks.add(task)
        self.watcher = asyncio.create_task(_watch(receive, self.gone, task))

    def absorbs(self, begun: bool) -> bool:
        """On the relay's cancellation: whether the client left or (the response begun) the
        drain deadline passed; the relay then ends the call itself. Otherwise the
        cancellation is someone else's and goes on."""
        if not (self.gone.is_set() or (begun and self.streams.ending)):
            return False
        self.drained = not self.gone.is_set()
        self.task.uncancel()
        return True

    def stop(self) -> None:
        self.streams.tasks.discard(self.task)
        self.watcher.cancel()


async def _watch(receive: Any, gone: asyncio.Event, task: asyncio.Task[Any]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            task.cancel()
            return
