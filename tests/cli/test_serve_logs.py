"""``modelyard serve`` as a real process prints one line on standard error for each failed
``/v1`` call: method and path, status, error code, the request id, the user and the model
asked for; never the caller's key, nor the error's message text."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.cli.test_serve import STARTUP_TIMEOUT_S, TOKEN, free_port

WRONG_KEY = "myk_not-a-key-of-this-server-at-all"


@contextmanager
def serving(tmp_path: Path, **extra_env: str) -> Iterator[tuple[str, Path, Path]]:
    """A running server: its URL and the files its stdout and stderr go to."""
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if k != "MODELYARD_LOG_LEVEL"}
    env = {
        **inherited,
        "MODELYARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        "MODELYARD_MASTER_KEY_FILE": str(tmp_path / "serve.key"),
        "MODELYARD_USAGE_OUTBOX": str(tmp_path / "usage.outbox"),
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }
    env.pop("MODELYARD_MASTER_KEY", None)
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port)],
            stdout=stdout,
            stderr=stderr,
            env=env,
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while True:
                assert process.poll() is None, err.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"not up\n{err.read_text()}"
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}", out, err
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def line_of(stderr: str, request_id: str) -> str:
    [line] = [line for line in stderr.splitlines() if f"(request {request_id})" in line]
    return line


def test_failed_v1_calls_are_logged_one_line_each(tmp_path: Path) -> None:
    with serving(tmp_path) as (url, out, err):
        [key] = TOKEN.findall(out.read_text())
        me = httpx.get(f"{url}/api/v1/users/me", headers={"Authorization": f"Bearer {key}"})
        user = me.json()["id"]
        bad = httpx.post(
            f"{url}/v1/chat/completions",
            headers={"x-api-key": key},
            json={
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "a secret prompt"}],
                "temperature": 7,
            },
        )
        unknown = httpx.post(
            f"{url}/v1/completions",
            headers={"api-key": key},
            json={"model": "no-such-model\nforged line", "prompt": "hi"},
        )
        refused = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {WRONG_KEY}"})
        fine = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"})
        # each line is written (unbuffered) before its answer is sent
    stderr = err.read_text()
    assert (bad.status_code, unknown.status_code, refused.status_code) == (400, 404, 401)
    assert fine.status_code == 200

    line = line_of(stderr, bad.headers["x-request-id"])
    assert "POST /v1/chat/completions -> 400 DECIMAL_ABOVE_MAX_VALUE" in line
    assert f"user={user}" in line
    assert 'model="gpt-4o"' in line
    assert " INFO modelyard.gateway: " in line

    line = line_of(stderr, unknown.headers["x-request-id"])
    assert "POST /v1/completions -> 404 MODEL_NOT_FOUND" in line
    assert f"user={user}" in line
    assert 'model="no-such-model\\nforged line"' in line  # escaped: no line of its own
    assert not any(x.startswith("forged line") for x in stderr.splitlines())

    line = line_of(stderr, refused.headers["x-request-id"])
    assert "GET /v1/models -> 401 UNAUTHENTICATED" in line
    assert "user=- model=-" in line

    assert fine.headers["x-request-id"] not in stderr  # only failures
    for secret in (key, WRONG_KEY, "a secret prompt", "temperature': decimal", "Expected a"):
        assert secret not in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("level", ["warning", "error"])
def test_a_higher_log_level_keeps_the_4xx_lines_out(tmp_path: Path, level: str) -> None:
    with serving(tmp_path, MODELYARD_LOG_LEVEL=level) as (url, _out, err):
        refused = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {WRONG_KEY}"})
    assert refused.status_code == 401
    assert refused.headers["x-request-id"] not in err.read_text()
    assert re.search(r"INFO", err.read_text()) is None
