"""Traces off cost nothing and import nothing; on, the settings alone decide the export; an
unreachable collector neither fails nor holds up calls; sampling follows the ratio and the
caller's traceparent; an upstream URL in a span never carries a credential."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from yarl import URL

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from modelyard.telemetry.http import safe_url
from modelyard.telemetry.setup import headers, tracing_from
from tests.telemetry.rig import MODEL, traced_server

ASK = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
OFF = """
import sys
from modelyard.api.app import create_app
from modelyard.gateway import call, pipeline, settlement
from modelyard.settings import Settings
from modelyard.telemetry.setup import tracing_from
settings = Settings()
create_app(settings)
assert tracing_from(settings) is None
print(sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk.trace",
    "opentelemetry.exporter", "modelyard.telemetry.tracing", "modelyard.telemetry.sdk"))))
"""


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "modelyard.db"
    path.write_bytes(sqlite_template.read_bytes())
    return f"sqlite+aiosqlite:///{path}"


def test_traces_off_import_neither_the_sdk_nor_the_exporter(tmp_path: Path) -> None:
    """(redis-py imports ``opentelemetry.sdk.metrics`` by itself once the SDK is installed:
    its own observability, not ours, and nothing runs.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "OTEL_"))}
    env["MODELYARD_HOME"] = str(tmp_path)
    env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://127.0.0.1:9/v1/traces"  # not ours
    done = subprocess.run(
        [sys.executable, "-c", OFF], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("collector:4318", "http(s) URL"),
        ("ftp://collector/v1/traces", "http(s) URL"),
        ("http://user:pw@collector:4318/v1/traces", "credentials"),
        ("http://collector:4318/v1/traces?token=x", "credentials"),
    ],
)
def test_a_bad_endpoint_is_refused_by_the_settings(endpoint: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        Settings(otel_endpoint=endpoint)


def test_an_endpoint_without_a_path_gets_the_traces_path_and_headers_are_pairs() -> None:
    settings = Settings(otel_endpoint="http://collector:4318", otel_headers="a=1, b = x=y")
    assert settings.otel_endpoint == "http://collector:4318/v1/traces"
    assert headers(settings) == {"a": "1", "b": "x=y"}
    assert "x=y" not in repr(settings)
    with pytest.raises(ValidationError, match="name=value"):
        Settings(otel_headers="just-a-token")


def test_an_upstream_url_in_a_span_carries_no_credential() -> None:
    url = URL(
        "https://user:pw@example.com/v1beta/models/KEY123456789:generateContent?key=KEY123456789&alt=sse"
    )
    shown = safe_url(url, "KEY123456789")
    assert (
        shown == "https://example.com/v1beta/models/***:generateContent?key=REDACTED&alt=REDACTED"
    )


async def test_an_unreachable_collector_fails_no_call(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Path
) -> None:
    with socket.socket() as sock:  # a port that refuses connections
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = settings.model_copy(update={"otel_endpoint": f"http://127.0.0.1:{port}/v1/traces"})
    tracing = tracing_from(down)
    assert tracing is not None
    try:
        async with traced_server(settings, registry, admin, tmp_path, tracing=tracing) as rig:
            answers = await asyncio.gather(*(rig.post(ASK) for _ in range(20)))
            assert [a.status_code for a in answers] == [200] * 20
            assert rig.spans() == []  # they went to the (unreachable) collector
    finally:
        await asyncio.to_thread(tracing.close)  # gives up on the export; returns


async def test_unsampled_traces_record_nothing_but_a_sampled_caller_is_followed(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Path
) -> None:
    async with traced_server(settings, registry, admin, tmp_path, ratio=0.0) as rig:
        assert (await rig.post(ASK)).status_code == 200
        assert rig.spans() == []
        sampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        assert (await rig.post(ASK, traceparent=sampled)).status_code == 200
        names = sorted(s.name for s in rig.spans())
        assert names == ["POST", f"chat {MODEL}", f"chat {MODEL}"]
