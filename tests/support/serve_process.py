"""``modelyard serve`` as its own process on a free port of 127.0.0.1, for tests of several
replicas: started with the environment a test gives it, stopped (or killed) on every exit,
and its log checked for tracebacks and for secrets the test names."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

# A guard against a server that never answers, not a measure (40 s seen on two busy cores).
STARTUP_TIMEOUT_S = 120


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL: no drain, no release of anything it holds."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serve(directory: Path, name: str, env: dict[str, str]) -> Iterator[Server]:
    """One server; ``env`` adds to (and overrides) this process's environment."""
    port = _free_port()
    full = {**os.environ, "MODELYARD_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1", **env}
    log = directory / f"{name}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full,
        )
    try:
        yield Server(f"http://127.0.0.1:{port}", process, log)
    finally:
        _stop(process)


def wait_ready(servers: Sequence[Server]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    for server in servers:
        while True:
            assert server.process.poll() is None, server.log.read_text()
            try:
                if httpx.get(f"{server.base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.1)


@contextmanager
def replicas(
    directory: Path, env: dict[str, str], count: int, secrets: Sequence[str] = ()
) -> Iterator[list[Server]]:
    """``count`` servers on one configuration (each its own usage outbox), ready."""
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                serve(
                    directory,
                    f"replica-{i}",
                    {**env, "MODELYARD_USAGE_OUTBOX": str(directory / f"replica-{i}.outbox")},
                )
            )
            for i in range(count)
        ]
        wait_ready(servers)
        yield servers
    for server in servers:
        text = server.log.read_text()
        assert "Traceback" not in text, text
        for secret in secrets:
            assert secret not in text, f"{server.log.name} shows a secret"
