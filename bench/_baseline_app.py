"""Floors for the gateway benchmark: what the server and the upstream client cost alone.

Two bare ASGI apps, served exactly as ``modelyard serve`` serves the gateway (``uvicorn.run``
with the same defaults: uvloop, httptools, no access log):

* ``static``: answers ``POST /v1/chat/completions`` with the mock's fixed JSON or SSE bytes,
  no upstream call: the cost of uvicorn and the ASGI round trip.
* ``proxy``: forwards the body to the mock upstream with one pooled ``aiohttp`` session
  (configured like modelyard's: ``TCPConnector(limit=0)``, a total timeout, no redirects)
  and relays the reply, streamed replies chunk by chunk: the cost of a pass-through proxy
  on the same server and HTTP client, with no auth, limits, resolution or usage.

``bench/gateway_throughput.py --target static|proxy`` runs the same load against them.
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
import uvicorn
from _mock_upstream import PLAIN, STREAMED

Scope = dict[str, Any]
JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


def _fixed() -> tuple[bytes, bytes]:
    """The mock's JSON body, and its SSE events without the chunked framing."""
    body = PLAIN.split(b"\r\n\r\n", 1)[1]
    framed = STREAMED.split(b"\r\n\r\n", 1)[1]
    events, rest = b"", framed
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if not size:
            return body, events
        events, rest = events + rest[:size], rest[size + 2 :]


BODY, EVENTS = _fixed()


async def _read(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def static(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = await _read(receive)
    stream = b'"stream":true' in body
    headers = SSE_HEADERS if stream else [*JSON_HEADERS, (b"content-length", b"%d" % len(BODY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": EVENTS if stream else BODY})


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.url = f"{upstream}/v1/chat/completions"
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0)
            self.session = aiohttp.ClientSession(connector=connector)
        body = await _read(receive)
        stream = b'"stream":true' in body
        timeout = aiohttp.ClientTimeout(total=60)
        async with self.session.post(
            self.url,
            data=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-x"},
            timeout=timeout,
            allow_redirects=False,
        ) as reply:
            if not stream:
                data = await reply.read()
                headers = [*JSON_HEADERS, (b"content-length", b"%d" % len(data))]
                await send(
                    {"type": "http.response.start", "status": reply.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": data})
                return
            await send(
                {"type": "http.response.start", "status": reply.status, "headers": SSE_HEADERS}
            )
            async for piece in reply.content.iter_any():
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


def main() -> None:
    parser = argparse.ArgumentParser(description="baseline ASGI apps for the gateway benchmark")
    parser.add_argument("mode", choices=["static", "proxy"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", default="", help="the mock's base URL (proxy mode)")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    app = static if args.mode == "static" else Proxy(args.upstream)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
