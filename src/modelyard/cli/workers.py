"""``modelyard serve --workers N``: the parent's side of several worker processes.

The workers are uvicorn's multiprocess supervisor's: the parent binds the socket, spawns N
processes that each import the app factory ``FACTORY`` and serve on the shared socket,
replaces a worker that dies, and on SIGTERM or SIGINT sends SIGTERM to each and waits for
them (each then shuts down as a single server does). We chose it over a supervisor of our
own because it already does exactly that, tested, and each worker is then the same server
as ``--workers 1``, started through the same lifespan.

What the parent does first, once: refuse a configuration whose limits would be split per
worker (:func:`refuse_split_limits`), bootstrap the database (``server.py``), hand its
settings to the workers (:func:`hand_down`: they are spawned, so they read the environment
again) and make the directory where they publish their metrics (:func:`worker_dir`).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess, multiprocess

from modelyard.errors import Misconfigured
from modelyard.gateway.metrics_shared import run_dir
from modelyard.settings import Settings

from ._common import load_settings
from .drain import DrainingServer

FACTORY = "modelyard.cli.server:worker_app"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def refuse_split_limits(settings: Settings) -> None:
    """Several workers without Redis would each count rpm, tpm, parallel slots and
    Idempotency-Keys on their own: a limit of 30 rpm would admit 30 per worker. Refuse."""
    if settings.workers > 1 and not settings.redis_url:  # unset, or set to nothing
        raise Misconfigured(
            f"{settings.workers} workers (--workers, MODELYARD_WORKERS) need "
            "MODELYARD_REDIS_URL: without Redis each worker "
            "would count rate limits, parallel slots and Idempotency-Keys on its own (a limit "
            f"would admit up to {settings.workers} times its value). Set MODELYARD_REDIS_URL "
            "(redis://127.0.0.1:6379/0) or run one worker."
        )


def hand_down(overrides: Mapping[str, object]) -> None:
    """Put the command line's overrides (``--host``, ``--port``, ``--workers``) where the
    spawned workers' :class:`Settings` read them: this process's environment."""
    for name, value in overrides.items():
        os.environ[f"MODELYARD_{name.upper()}"] = str(value)


@contextmanager
def worker_dir(settings: Settings) -> Iterator[Path]:
    """The directory this server's workers share (``run/serve-<pid>`` under the home),
    removed with whatever is left in it when the server stops."""
    directory = run_dir(settings.home, os.getpid())
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class DrainingWorker(multiprocess.Process):
    """A worker whose server drains on SIGTERM as a single server does (``cli/drain.py``):
    not ready at once, the listener open for the delay, streams ended at the deadline."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:  # in the worker: its settings, handed down (hand_down)
            settings = load_settings()
            delay_s, timeout_s = settings.drain_delay_s, settings.drain_timeout_s
            self._server = DrainingServer(self.config, delay_s, timeout_s)
        return self._server


class Supervisor(Multiprocess):
    """uvicorn's supervisor, which on SIGTERM also closes its own copy of the listening
    socket: the workers' copies keep it listening through their drain delay, and once the
    last has closed, a new connection is refused (a load balancer tries another replica)
    rather than left waiting in the backlog of a socket nobody accepts on any more."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop_now)

    def _stop_now(self, sig: int, frame: FrameType | None) -> None:
        """SIGTERM or SIGINT: stop at once. uvicorn's own handler queues the signal for a
        loop that looks every half second; the workers would say "ready" meanwhile."""
        self.signal_queue.append(sig)
        self.should_exit.set()

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


def supervise(count: int, options: Mapping[str, Any]) -> int:
    """Run ``count`` workers until SIGTERM or SIGINT; the exit status: 0, or 3 (uvicorn's
    start-up failure) when a worker could not start (``uvicorn.run`` exits 0 then, which
    would tell a process manager that all is well)."""
    config = uvicorn.Config(FACTORY, factory=True, workers=count, **options)
    # uvicorn's supervisor makes its workers by this module-level name (when it starts
    # them and when it replaces one that died): make them draining ones.
    multiprocess.Process = DrainingWorker  # type: ignore[misc]
    supervisor = Supervisor(config, sockets=[config.bind_socket()])
    supervisor.run()
    failed = any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes)
    return STARTUP_FAILURE if failed else 0


def follow_parent(parent: int) -> None:
    """Make this worker stop when its parent dies. A parent killed outright (SIGKILL, the
    OOM killer) cannot stop its workers, which would serve on unsupervised, holding the
    port; on Linux the kernel sends each of them SIGTERM instead (``PR_SET_PDEATHSIG``), and
    they stop as on a graceful shutdown. ``parent``: the pid read before asking, to catch a
    parent that died in between."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)
