"""`modelyard serve` as its own process for tests that run a documented procedure end to end
(backup and restore, a rolling upgrade): its environment from MODELYARD_HOME alone, the
operator's CLI on the same home, a registry whose provider points at the mock upstream, and
a /v1 call through it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.cli.conftest import Cli
from tests.cli.test_serve import STARTUP_TIMEOUT_S, free_port
from tests.support.mock_openai import GOOD_KEY, MockOpenAI

MODEL = "up/mock-1"


def server_env(home: Path, database_url: str | None = None) -> dict[str, str]:
    """A server's environment: MODELYARD_HOME (and a PostgreSQL URL), nothing inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env |= {"MODELYARD_HOME": str(home), "MODELYARD_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"}
    if database_url is not None:
        env["MODELYARD_DATABASE_URL"] = database_url
    return env


def operator_cli(home: Path, database_url: str | None = None) -> Cli:
    """The CLI as an operator runs it on that machine: MODELYARD_HOME and nothing else."""
    cli = Cli(database_url or "", home / "modelyard.key")
    cli.env |= {
        "MODELYARD_HOME": str(home),
        "MODELYARD_DATABASE_URL": database_url,
        "MODELYARD_MASTER_KEY_FILE": None,
        "MODELYARD_USAGE_OUTBOX": None,
    }
    return cli


@contextmanager
def served(env: dict[str, str], log: Path, until: str = "/health/ready") -> Iterator[str]:
    """`modelyard serve` on a free port until the block ends, once ``until`` answers 200;
    its base URL."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not answers(url + until):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"not up\n{log.read_text()}"
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def chat_call(url: str, api_key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {api_key}"},
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )


def registry_for(cli: Cli, upstream: MockOpenAI) -> str:
    """A provider whose sealed key the upstream accepts, a model, and the admin's API key."""
    admin_key: str = cli.json("init")["admin_key"]
    cli.ok(
        "providers", "add", "--name", "up", "--kind", "openai_compatible",
        "--base-url", upstream.url, "--api-key-stdin", input=f"{GOOD_KEY}\n",
    )  # fmt: skip
    cli.ok("models", "add", "--provider", "up", "--model-id", "mock-1")
    return admin_key
