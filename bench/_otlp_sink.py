"""An OTLP/HTTP traces receiver that reads and discards every export (the traces benchmark's
collector): ``POST /v1/traces`` answers an empty ``ExportTraceServiceResponse`` (zero
bytes of protobuf), after reading the whole body. It prints ``port <n>`` once it listens and
``spans-bytes <n>`` (what it received) when it stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

received = 0


async def traces(request: web.Request) -> web.Response:
    global received  # noqa: PLW0603 - one counter in a one-purpose process
    received += len(await request.read())
    return web.Response(body=b"", content_type="application/x-protobuf")


async def main() -> None:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", traces)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)  # type: ignore[attr-defined]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    print(f"spans-bytes {received}", flush=True)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
