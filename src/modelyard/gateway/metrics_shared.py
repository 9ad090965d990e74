"""``/metrics`` for the whole server when ``modelyard serve --workers N`` runs several worker
processes: a scrape reaches one worker, chosen by the kernel, so each worker answering only
for itself would make every counter jump between workers' values.

Each worker writes its counters (:meth:`Metrics.state`) and its pending usage rows to
``<dir>/<pid>.json`` once a second, when they changed, by an atomic rename; the directory
belongs to the server (``run/serve-<parent pid>`` under ``MODELYARD_HOME``; the parent
creates it before the workers start and removes it when they are gone). A scrape adds the
answering worker's live counters to the files of the other workers that are still alive; a
file whose process is gone is removed. So the figures lag by at most a second for the other
workers, and a worker that exits takes its counts with it (Prometheus sees a counter reset,
as after a restart; ``rate()`` copes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import orjson

from modelyard.gateway.metrics import Metrics

log = logging.getLogger(__name__)

PUBLISH_INTERVAL_S = 1.0


def run_dir(home: Path, server_pid: int) -> Path:
    """The directory the workers of the server with parent process ``server_pid`` share."""
    return home / "run" / f"serve-{server_pid}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process has that pid now: not our worker
        return False
    return True


class SharedMetrics:
    """One worker's side: publishing its counters, and rendering everyone's."""

    def __init__(
        self,
        directory: Path,
        metrics: Metrics,
        pending: Callable[[], int],
        *,
        interval_s: float = PUBLISH_INTERVAL_S,
    ) -> None:
        self.directory = directory
        self.metrics = metrics
        self.pending = pending
        self.interval_s = interval_s
        self.pid = os.getpid()
        self.path = directory / f"{self.pid}.json"
        self._last: bytes | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.publish()
        self._task = asyncio.create_task(self._run(), name="modelyard-metrics-publisher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.path.unlink(missing_ok=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                self.publish()
            except OSError as exc:  # a full or read-only disk: the scrape shows this worker
                log.warning("cannot publish this worker's metrics: %s", exc)

    def publish(self) -> None:
        """Write this worker's counters if they changed since the last write."""
        document = orjson.dumps({"state": self.metrics.state(), "pending": self.pending()})
        if document == self._last:
            return
        scratch = self.path.with_suffix(".tmp")
        scratch.write_bytes(document)
        os.replace(scratch, self.path)
        self._last = document

    def render(self) -> str:
        """The whole server's metrics: this worker's live counters plus the live others'."""
        merged = Metrics()
        merged.absorb(self.metrics.state())
        pending = self.pending()
        for path in sorted(self.directory.glob("*.json")):
            if not path.stem.isdigit() or int(path.stem) == self.pid:
                continue
            if not _alive(int(path.stem)):
                path.unlink(missing_ok=True)
                continue
            try:
                document = orjson.loads(path.read_bytes())
                merged.absorb(document["state"])
                pending += int(document["pending"])
            except (OSError, ArithmeticError, KeyError, TypeError, ValueError) as exc:
                # a file another version wrote, or a hand edit: never /metrics' failure
                log.warning("skipping worker metrics %s: %s", path.name, type(exc).__name__)
        return merged.render(usage_pending=pending)
