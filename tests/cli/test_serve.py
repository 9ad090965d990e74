"""`modelyard serve` as a real process: bootstraps, prints the admin key only the first time."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

# How long a starting server may take before the test gives up on it: a guard against one
# that never answers, not a measure (it took 40 s on two busy cores).
STARTUP_TIMEOUT_S = 120
TOKEN = re.compile(r"myk_[A-Za-z0-9_-]{20,}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_once(tmp_path: Path, run: int, **extra_env: str) -> str:
    """Start the server, wait until /health answers, stop it; return everything it printed."""
    port = free_port()
    env = {
        **os.environ,
        "MODELYARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        "MODELYARD_MASTER_KEY_FILE": str(tmp_path / "serve.key"),
        "MODELYARD_USAGE_OUTBOX": str(tmp_path / "usage.outbox"),
        "MODELYARD_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }
    env.pop("MODELYARD_MASTER_KEY", None)
    log = tmp_path / f"serve-{run}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (
                    f"not up in {STARTUP_TIMEOUT_S}s\n{log.read_text()}"
                )
                time.sleep(0.1)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return log.read_text()


def test_serve_prints_the_admin_key_on_first_start_only(tmp_path: Path) -> None:
    first = serve_once(tmp_path, 1)
    assert len(TOKEN.findall(first)) == 1, first
    assert "Traceback" not in first
    second = serve_once(tmp_path, 2)
    assert TOKEN.search(second) is None, second
    assert "Traceback" not in second


def test_serve_keeps_no_access_log_unless_asked(tmp_path: Path) -> None:
    quiet = serve_once(tmp_path, 1, MODELYARD_LOG_LEVEL="info")
    assert "Application startup complete" in quiet  # info lines are printed ...
    assert "GET /health" not in quiet  # ... but not one per request
    logged = serve_once(tmp_path, 2, MODELYARD_LOG_LEVEL="info", MODELYARD_ACCESS_LOG="true")
    assert '"GET /health HTTP/1.1" 200' in logged
