"""End to end: a real ``modelyard serve`` exporting its spans over OTLP/HTTP to a receiver in
this test (decoded with opentelemetry-proto), with JSON log lines on its standard error that
carry the same request and trace ids. Stray ``OTEL_*`` variables in its environment change
nothing: the service name, the endpoint and the sampler are modelyard's settings."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.cli.test_serve import STARTUP_TIMEOUT_S, TOKEN, free_port
from tests.gateway.upstream import fake_upstream, json_reply
from tests.gateway.upstream import fixture as recorded

PROVIDER_KEY = "sk-e2e-provider-key-abcdef0123456789"
INGEST_TOKEN = "otlp-ingest-token-0123456789"
MODEL = "gpt-4o-mini"
WAIT_S = 60  # a guard against spans that never come, not a measure
SERVER, CLIENT = Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CLIENT


@dataclass
class Receiver:
    url: str
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def spans(self) -> list[tuple[Any, dict[str, Any]]]:
        """Every span received, with its resource's attributes."""
        found = []
        for body in self.bodies:
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    found += [(span, resource) for span in scope.spans]
        return found


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver("")

    async def traces(request: web.Request) -> web.Response:
        state.bodies.append(await request.read())
        state.headers.append(dict(request.headers))
        reply = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=reply, content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.url = str(server.make_url("")).rstrip("/")
    try:
        yield state
    finally:
        await server.close()


def attribute(span: Any, name: str) -> Any:
    for item in span.attributes:
        if item.key == name:
            value = item.value
            return getattr(value, value.WhichOneof("value"))
    return None


async def _up(process: asyncio.subprocess.Process, url: str, log: Path) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(STARTUP_TIMEOUT_S * 10):
            assert process.returncode is None, _read(log)
            try:
                if (await http.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"not up in {STARTUP_TIMEOUT_S}s\n{_read(log)}")


def _read(path: Path) -> str:
    return path.read_text()


async def test_serve_exports_spans_and_writes_json_lines_with_the_same_ids(
    receiver: Receiver, tmp_path: Path
) -> None:
    chat = ("POST", "/v1/chat/completions")
    async with fake_upstream({chat: json_reply(recorded("openai/chat_completion.json"))}) as up:
        port = free_port()
        env = {
            **os.environ,
            "MODELYARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
            "MODELYARD_MASTER_KEY_FILE": str(tmp_path / "serve.key"),
            "MODELYARD_USAGE_OUTBOX": str(tmp_path / "usage.outbox"),
            "MODELYARD_LOG_LEVEL": "info",
            "MODELYARD_LOG_FORMAT": "json",
            "MODELYARD_ACCESS_LOG": "true",
            "MODELYARD_OTEL_ENDPOINT": f"{receiver.url}/v1/traces",
            "MODELYARD_OTEL_HEADERS": f"authorization=Bearer {INGEST_TOKEN}",
            "MODELYARD_OTEL_SERVICE_NAME": "modelyard-e2e",
            "OTEL_SERVICE_NAME": "from-the-environment",  # ignored
            "OTEL_TRACES_SAMPLER": "always_off",  # ignored
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9/v1/traces",  # ignored
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("MODELYARD_MASTER_KEY", None)
        out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
        with out.open("w") as stdout, err.open("w") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port),
                stdout=stdout, stderr=stderr, env=env,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            await _up(process, url, err)
            found = TOKEN.search(out.read_text())
            assert found is not None, out.read_text()
            admin = {"Authorization": f"Bearer {found.group(0)}"}
            async with httpx.AsyncClient(timeout=30, headers=admin) as http:
                provider = await http.post(
                    f"{url}/api/v1/providers",
                    json={"name": "up", "kind": "openai", "base_url": f"{up.url}/v1",
                          "api_key": PROVIDER_KEY},
                )  # fmt: skip
                assert provider.status_code == 201, provider.text
                model = await http.post(
                    f"{url}/api/v1/models",
                    json={"provider_id": provider.json()["id"], "model_id": MODEL},
                )
                assert model.status_code == 201, model.text
                await asyncio.sleep(1.5)  # the gateway's snapshot follows within a second
                ask = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
                ok = await http.post(f"{url}/v1/chat/completions", json=ask)
                assert ok.status_code == 200, ok.text
                missing = await http.post(
                    f"{url}/v1/chat/completions", json={**ask, "model": "no-such-model"}
                )
                assert missing.status_code == 404
            for _ in range(WAIT_S * 10):  # exported within a second (the batch's delay)
                names = [span.name for span, _ in receiver.spans()]
                if f"chat {MODEL}" in names and "POST /v1/chat/completions" in names:
                    break
                await asyncio.sleep(0.1)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
                    await process.wait()
    spans = receiver.spans()
    by_name = {(span.name, span.kind): span for span, _ in spans}
    assert {resource["service.name"] for _, resource in spans} == {"modelyard-e2e"}
    assert all(h.get("Authorization") == f"Bearer {INGEST_TOKEN}" for h in receiver.headers)
    served = by_name[f"chat {MODEL}", SERVER]
    assert attribute(served, "modelyard.request_id") == ok.headers["x-request-id"]
    assert attribute(served, "gen_ai.usage.input_tokens") > 0
    attempt = by_name[f"chat {MODEL}", CLIENT]
    upstream = by_name["POST", CLIENT]
    assert attempt.parent_span_id == served.span_id
    assert upstream.parent_span_id == attempt.span_id
    assert attribute(upstream, "url.full") == f"{up.url}/v1/chat/completions"
    lines = [json.loads(line) for line in err.read_text().splitlines() if line.startswith("{")]
    assert lines
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert not [line for line in err.read_text().splitlines() if not line.startswith("{")]
    # the failed call's line, and the access lines, carry the request's ids
    refused = by_name["POST /v1/chat/completions", SERVER]
    (failed,) = [line for line in lines if line["logger"] == "modelyard.gateway"]
    assert failed["request_id"] == missing.headers["x-request-id"]
    assert failed["trace_id"] == refused.trace_id.hex()
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert served.trace_id.hex() in {line.get("trace_id") for line in access}
    assert ok.headers["x-request-id"] in {line.get("request_id") for line in access}
    # no secret in the exports or the log
    everything = b"".join(receiver.bodies) + err.read_bytes()
    for secret in (PROVIDER_KEY, INGEST_TOKEN, found.group(0)):
        assert secret.encode() not in everything
    assert re.search(rb"Traceback", err.read_bytes()) is None
