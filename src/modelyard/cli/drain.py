"""``modelyard serve``'s uvicorn server, with a graceful drain on SIGTERM (and SIGINT).

uvicorn already knows most of a graceful stop: on a signal it closes its listeners, closes
idle keep-alive connections, lets each request in flight finish (its connection then
closes: no keep-alive), waits ``timeout_graceful_shutdown`` for them and cancels what is
left, then runs the lifespan shutdown (here :meth:`Gateway.stop`: usage flushed, credit
holds and limiter slots given back). What it lacks, added here:

* **readiness first**: the signal sets ``Gateway.draining`` at once (``/health/ready`` then
  answers 503, check ``draining``) and the listener stays open ``MODELYARD_DRAIN_DELAY_S``
  more, so that a load balancer sees the 503 and stops sending before connections are
  refused (Kubernetes' preStop pattern); calls arriving meanwhile are served as usual. Once
  it closed, connections already open have :data:`LINGER_S` to send their request before
  uvicorn closes those without one (a request closed unread is a reset at the balancer);
* **streams ended cleanly**: ``MODELYARD_DRAIN_TIMEOUT_S`` after the listener closed, each
  stream still running gets a ``SERVER_SHUTTING_DOWN`` error event and its body's end, and
  is recorded ``aborted`` with the tokens produced (:mod:`modelyard.gateway.drain`); uvicorn's
  own cancellation stays as the backstop :data:`GRACE_S` later (a JSON call still running);
* **exit 0**: uvicorn re-raises the signal once stopped (the process then dies of SIGTERM);
  a drained server exits 0 instead, as process managers expect of a clean stop.

A second signal stops at once, as a second Ctrl+C does in uvicorn: nothing waits, the usage
still buffered in memory is not written. One arriving within ``SAME_SIGNAL_S`` of the first
is that one again (Ctrl+C on a terminal reaches each worker of ``--workers N`` from the
terminal and from the supervisor).
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import sys
import time
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from modelyard.settings import Settings

log = logging.getLogger("modelyard.server")
GRACE_S = 5.0  # after the streams were ended: their last writes, then uvicorn cancels the rest
SAME_SIGNAL_S = 1.0  # a second signal sooner than this is the first one again, not "now"
LINGER_S = 0.5  # after the listener closed: requests of connections just accepted arrive


class DrainingServer(uvicorn.Server):
    """uvicorn's server, drained as the module docstring says."""

    def __init__(
        self, config: uvicorn.Config, delay_s: float, timeout_s: float, app: Any = None
    ) -> None:
        """``app``: modelyard's app, whose ``state.gateway`` is drained; by default the one
        uvicorn loaded (a worker process loads its own), under uvicorn's middlewares."""
        super().__init__(config)
        self.app, self.delay_s, self.timeout_s = app, delay_s, timeout_s
        self.asked: float | None = None  # when the first signal came (monotonic)
        self.ending: asyncio.TimerHandle | None = None  # the drain deadline, once closed
        self.said = False  # the drain's start was logged

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Runs in the signal handler: notes the time (the loop acts on it, on_tick) and
        makes readiness answer 503 from this instant (one flag: a probe between the signal
        and the next tick must not be told "ready"); never records the signal, so that it is
        not raised again once the server stopped."""
        if self.asked is None:
            self.asked = time.monotonic()
            gateway = self._gateway()
            if gateway is not None:
                gateway.draining = True  # logged by the loop, on_tick (_draining)
        elif time.monotonic() - self.asked >= SAME_SIGNAL_S:
            # a second signal; one sooner is the first again (Ctrl+C reaches a worker from
            # the terminal and from its supervisor), and the drain goes on
            self.should_exit = self.force_exit = True

    async def on_tick(self, counter: int) -> bool:
        if self.asked is not None and not self.should_exit:
            self._draining()
            waited = time.monotonic() - self.asked
            if waited >= self.delay_s and self.ending is None:
                self._close()
            if waited >= self.delay_s + LINGER_S:
                self.should_exit = True  # the main loop ends: uvicorn's shutdown()
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._draining()
        if self.ending is None:  # stopped otherwise than by a signal
            self._close()
        try:
            await super().shutdown(sockets)
        finally:
            if self.ending is not None:
                self.ending.cancel()

    def _close(self) -> None:
        """No new connection from now on; the drain deadline runs from here. The connections
        already open are left alone for LINGER_S: one accepted a moment ago may not have
        sent its request yet, and uvicorn's shutdown closes every connection without a
        request in progress (an unread request closed is a reset at the load balancer)."""
        for server in getattr(self, "servers", ()):
            server.close()
        self.ending = asyncio.get_running_loop().call_later(self.timeout_s, self._end_streams)

    def _gateway(self) -> Any:
        app = self.app if self.app is not None else getattr(self.config, "loaded_app", None)
        while app is not None and not hasattr(app, "state"):
            app = getattr(app, "app", None)  # a middleware uvicorn wrapped it in
        return None if app is None else getattr(app.state, "gateway", None)

    def _draining(self) -> None:
        gateway = self._gateway()
        if gateway is not None:
            gateway.draining = True
        if not self.said:
            self.said = True
            log.info(
                "draining: not ready from now; the listener closes in %.1f s, calls in flight "
                "then have %.1f s",
                self.delay_s,
                self.timeout_s,
            )

    def _end_streams(self) -> None:
        gateway = self._gateway()
        if gateway is not None:
            ended = gateway.streams.end()
            if ended:
                log.warning("drain deadline: %d stream(s) ended with SERVER_SHUTTING_DOWN", ended)


def backstop_s(settings: Settings) -> int:
    """uvicorn's ``timeout_graceful_shutdown``: after the streams were ended at the drain
    deadline, their last writes; then uvicorn cancels what is left (it takes whole seconds)."""
    return math.ceil(settings.drain_timeout_s + GRACE_S)


def serve(app: Any, settings: Settings, **options: Any) -> None:
    """Serve ``app`` as ``uvicorn.run`` would (``options`` are uvicorn's, the backstop
    :func:`backstop_s` among them), drained on SIGTERM; returns once stopped (the process
    then exits 0)."""
    options.setdefault("timeout_graceful_shutdown", backstop_s(settings))
    config = uvicorn.Config(app, **options)
    server = DrainingServer(config, settings.drain_delay_s, settings.drain_timeout_s)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
