"""A round-robin HTTP load balancer on 127.0.0.1, for tests that run several replicas.

It behaves as nginx does by default in front of modelyard:

* **one upstream connection per request** (no keep-alive towards the replicas), the
  request's body read whole and sent on, the answer relayed as it comes (streams included);
* **passive health**: a replica whose connect is refused is skipped and the request goes
  to the next one (nothing was sent, so this is safe for a POST); a failure after the
  request was sent is the client's (a cut body, or a 502), never retried;
* **active health**: each replica's ``/health/ready`` polled every ``interval_s``; a replica
  that answers anything but 200, or refuses the connection, leaves the rotation until it
  answers 200 again; one that does not answer in time leaves it after ``FALL`` such checks
  in a row (HAProxy's ``fall``: a busy replica is not a draining one).

Clients may keep their connections to the balancer alive.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web

# Hop-by-hop headers (RFC 9110 7.6.1) and what the proxy sets itself.
HOP = frozenset(
    {"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "host"}
    | {"proxy-authenticate", "proxy-authorization", "content-length"}
)

FALL = 3  # checks timed out in a row before a replica leaves the rotation


@dataclass
class Backend:
    url: str
    up: bool = False  # as the last readiness check said
    served: int = 0  # requests relayed (whatever their status)
    refused: int = 0  # connects refused, the request then sent elsewhere


class Balancer:
    def __init__(self, urls: list[str], interval_s: float = 0.1) -> None:
        self.backends = [Backend(url) for url in urls]
        self.interval_s = interval_s
        self._turn = itertools.count()
        self.url = ""

    def _order(self) -> list[Backend]:
        """The backends to try, in round-robin order: the ready ones, or all if none is."""
        start = next(self._turn)
        turned = [
            self.backends[(start + i) % len(self.backends)] for i in range(len(self.backends))
        ]
        return [b for b in turned if b.up] or turned

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        for backend in self._order():
            try:
                upstream = await self._session.request(
                    request.method,
                    backend.url + request.path_qs,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                )
            except aiohttp.ClientConnectorError:  # refused: nothing was sent
                backend.refused += 1
                continue
            async with upstream:
                backend.served += 1
                answer = web.StreamResponse(status=upstream.status)
                for name, value in upstream.headers.items():
                    if name.lower() not in HOP:
                        answer.headers.add(name, value)
                await answer.prepare(request)
                async for data in upstream.content.iter_any():
                    await answer.write(data)
                await answer.write_eof()
                return answer
        return web.json_response({"error": "no replica accepted the connection"}, status=502)

    async def _check(self, backend: Backend) -> None:
        misses = 0
        while True:
            try:
                async with self._health.get(backend.url + "/health/ready") as answer:
                    backend.up, misses = answer.status == 200, 0
            except aiohttp.ClientConnectorError:  # refused: out at once
                backend.up = False
            except (aiohttp.ClientError, TimeoutError):  # slow (a busy replica) or cut
                misses += 1
                backend.up = backend.up and misses < FALL
            await asyncio.sleep(self.interval_s)

    async def until_up(self, url: str | None = None, timeout_s: float = 120.0) -> None:
        """Wait until the backend at ``url`` (else every backend) is in rotation."""
        wanted = [b for b in self.backends if url is None or b.url == url]
        async with asyncio.timeout(timeout_s):
            while not all(b.up for b in wanted):  # noqa: ASYNC110 (set by the checks)
                await asyncio.sleep(0.05)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Balancer]:
        """Serve on a free port of 127.0.0.1 (``self.url``); everything stops on exit."""
        one_each = aiohttp.TCPConnector(force_close=True)  # one connection per request
        self._session = aiohttp.ClientSession(
            connector=one_each, timeout=aiohttp.ClientTimeout(total=None, sock_connect=5)
        )
        self._health = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True),
            timeout=aiohttp.ClientTimeout(total=2),
        )
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._proxy)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        checks = [asyncio.create_task(self._check(b)) for b in self.backends]
        try:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            self.url = f"http://{host}:{port}"
            yield self
        finally:
            for task in checks:
                task.cancel()
            await asyncio.gather(*checks, return_exceptions=True)
            await runner.cleanup()
            await self._session.close()
            await self._health.close()
