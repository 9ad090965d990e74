"""A deadline on reading a request's body for the admin API: a client that sends part of a
body (8 of 100 bytes) and stalls gets 408 REQUEST_TIMEOUT once ``MODELYARD_BODY_TIMEOUT_S``
have passed since the request began, instead of holding a worker forever.

It wraps the ASGI ``receive`` ahead of FastAPI (an exception raised inside FastAPI's body
parsing would become a 400): on the deadline, the app is told the client left, whatever it
answers is dropped, and the 408 is sent in its place. /v1 reads its body itself, with the
same deadline (``api/openai/wire.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

from modelyard.api.responses import JSONBody
from modelyard.errors import RequestTimeout

App = Any


async def serve(app: App, timeout_s: float, scope: Any, receive: Any, send: Any) -> None:
    """``app(scope, receive, send)`` with the body read under a deadline."""
    guard = _Guard(receive, send, asyncio.get_running_loop().time() + timeout_s)
    try:
        await app(scope, guard.receive, guard.send)
    except Exception:
        if not guard.timed_out:
            raise
    if guard.timed_out and not guard.started:
        error = RequestTimeout(
            f"the request body did not arrive within {timeout_s:g} s",
            details={"timeout_s": timeout_s},
        )
        body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
        response = JSONBody(body, status_code=error.status, headers={"connection": "close"})
        await response(scope, receive, send)


class _Guard:
    __slots__ = ("_deadline", "_receive", "_send", "body_done", "started", "timed_out")

    def __init__(self, receive: Any, send: Any, deadline: float) -> None:
        self._receive, self._send, self._deadline = receive, send, deadline
        self.body_done = self.timed_out = self.started = False

    async def receive(self) -> Any:
        if self.body_done or self.timed_out:
            return await self._receive()
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            self.timed_out = True
            return {"type": "http.disconnect"}  # the app stops reading; the 408 goes instead
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.body_done = True
        return message

    async def send(self, message: Any) -> None:
        if self.timed_out:
            return  # the app's answer to a body that never came: dropped
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)
