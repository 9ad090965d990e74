"""``modelyard serve --workers N`` as a real process for tests: started on a free port,
waited for until every worker is up, its workers told apart, stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

# A guard against a server that never comes up, not a measure: two busy cores are slow.
STARTUP_TIMEOUT_S = 180
STOP_TIMEOUT_S = 60
COMMAND = (sys.executable, "-m", "modelyard.cli", "serve")
TOKEN = re.compile(r"myk_[A-Za-z0-9_-]{20,}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    base: str
    home: Path
    log: Path
    workers: int
    admin_key: str = field(default="", repr=False)  # out of failure messages

    @property
    def run_dir(self) -> Path:
        return self.home / "run" / f"serve-{self.process.pid}"

    def worker_states(self) -> dict[int, dict[str, Any]]:
        """Each live worker's published metrics document, by pid."""
        states: dict[int, dict[str, Any]] = {}
        for path in self.run_dir.glob("*.json"):
            try:
                states[int(path.stem)] = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue  # replaced under our feet: read it next time
        return states

    def output(self) -> str:
        """What the server printed, for failure messages: the admin key masked."""
        return TOKEN.sub("myk_<masked>", self.log.read_text(errors="replace"))

    def close(self) -> None:
        """Whatever the test left running stopped: the parent gracefully if it still runs,
        then any worker that outlived it (killed by its pid, checked to be ours)."""
        pids = set(self.worker_states())
        if self.process.poll() is None:
            with contextlib.suppress(AssertionError):
                self.stop()
        for pid in pids:
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)

    def stop(self) -> int:
        """SIGTERM to the parent; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"not stopped in {STOP_TIMEOUT_S}s\n{self.output()}") from None


def start(home: Path, env: dict[str, str], workers: int = 2) -> Served:
    """Start the server and wait until ``workers`` workers have published their metrics (each
    does once its app has started) and /health answers."""
    port = free_port()
    log = home / f"serve-{port}.log"
    full_env = {**os.environ, "MODELYARD_HOME": str(home), "PYTHONUNBUFFERED": "1", **env}
    full_env.pop("MODELYARD_MASTER_KEY", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*COMMAND, "--workers", str(workers), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    served = Served(process, f"http://127.0.0.1:{port}", home, log, workers)
    try:
        _wait(served)
    except BaseException:
        served.process.kill()
        served.process.wait()
        raise
    found = TOKEN.search(served.log.read_text(errors="replace"))
    served.admin_key = found.group(0) if found else ""
    return served


def _wait(served: Served) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        assert served.process.poll() is None, served.output()
        if len(served.worker_states()) == served.workers:
            try:
                if httpx.get(f"{served.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        assert time.monotonic() < deadline, f"not up in {STARTUP_TIMEOUT_S}s\n{served.output()}"
        time.sleep(0.2)
