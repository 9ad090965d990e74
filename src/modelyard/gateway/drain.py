"""Streams in flight, so that a stopping server can end them cleanly at its drain deadline.

On SIGTERM the server (:mod:`modelyard.cli.drain`) lets calls in flight finish; a stream may
run for minutes, so past ``MODELYARD_DRAIN_TIMEOUT_S`` it calls :meth:`Streams.end`: each
relay still running is cancelled with :attr:`Streams.ending` set, and the relay
(:func:`modelyard.api.openai.stream.relay`) answers that cancellation by writing the
``SERVER_SHUTTING_DOWN`` error event and the end of the body, and settling the call as
``aborted`` with the tokens produced so far. What a stream costs for this is one set add and
one discard: no timer, no check per chunk.
"""

from __future__ import annotations

import asyncio
from typing import Any


class Streams:
    """The relay tasks of the streams this process is serving."""

    __slots__ = ("ending", "tasks")

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.ending = False  # set once, by end(): a relay's cancellation is the server's

    def end(self) -> int:
        """End every stream still running (each writes its error event); how many."""
        self.ending = True
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        return len(tasks)
