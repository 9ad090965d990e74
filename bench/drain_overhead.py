"""Benchmark: what the graceful drain costs a stream on the hot path.

A relay registers its task in ``Gateway.streams`` so that a stopping server can end it at the
drain deadline (``api/openai/stream.py`` ``Watch``). This measures, in CPU time per stream,
the relay's watch set-up and tear-down before the drain (an event and the watcher task)
and with it (the same, plus one set add and one discard), best of several rounds. JSON
calls do none of this. Compare with the gateway's CPU per streamed call in
``gateway_throughput.py`` (about 0.5 ms).

Run: ``.venv/bin/python bench/drain_overhead.py``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from modelyard.api.openai.stream import Watch, _watch
from modelyard.gateway.drain import Streams

STREAMS, ROUNDS = 20_000, 7


async def _receive() -> dict[str, Any]:
    await asyncio.sleep(3600)  # a client that never leaves
    return {"type": "http.disconnect"}


async def _before(n: int) -> None:
    for _ in range(n):
        me = asyncio.current_task()
        assert me is not None
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch(_receive, gone, me))
        watcher.cancel()
        await asyncio.sleep(0)


async def _with_drain(n: int, streams: Streams) -> None:
    for _ in range(n):
        watch = Watch(_receive, streams)
        watch.stop()
        await asyncio.sleep(0)


async def main() -> None:
    streams = Streams()
    best = {"before": float("inf"), "with drain": float("inf")}
    for _ in range(ROUNDS):
        for name, so_far in best.items():
            started = time.process_time()
            await (_before(STREAMS) if name == "before" else _with_drain(STREAMS, streams))
            best[name] = min(so_far, (time.process_time() - started) / STREAMS * 1e6)
    for name, us in best.items():
        print(f"{name:>10}: {us:6.2f} us CPU per stream (best of {ROUNDS} x {STREAMS:,})")
    print(f"{'added':>10}: {best['with drain'] - best['before']:6.2f} us per stream")


if __name__ == "__main__":
    asyncio.run(main())
