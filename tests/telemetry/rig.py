"""A modelyard server (in this event loop) whose spans go to an in-memory exporter, in front of
two scripted OpenAI upstreams serving the same model: each upstream request takes the next
action of one shared script ("ok", "stream", or an HTTP status), so retries and fallbacks
happen in a known order whichever provider is tried first."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from modelyard.telemetry.tracing import Tracing
from tests.gateway.server import running
from tests.gateway.upstream import fake_upstream, fixture, json_reply

MODEL = "gpt-4o-mini"
EMBEDDER = "text-embedding-3-small"
PROVIDER_KEY = "sk-provider-secret-0123456789abcdef"
RETRY = {"max_attempts": 2, "base_delay_ms": 1, "max_delay_ms": 2, "jitter": False}
# An upstream that quotes the key it was sent in its error message (some do).
ECHO = {"error": {"message": f"Incorrect API key provided: {PROVIDER_KEY}", "type": "x"}}


@dataclass
class Traced:
    url: str
    key: str  # the caller's myk_ key
    exporter: InMemorySpanExporter
    script: list[str]  # what the next upstream requests answer; "ok" once it is empty
    app: Any
    asked: list[str] = field(default_factory=list)  # which provider each request reached

    async def post(self, body: dict[str, Any], path: str = "/v1/chat/completions", **h: str):
        async with httpx.AsyncClient(timeout=30) as http:
            headers = {"Authorization": f"Bearer {self.key}", **h}
            return await http.post(f"{self.url}{path}", json=body, headers=headers)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


def in_memory(ratio: float = 1.0) -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider, close=provider.shutdown), exporter


def _upstream(name: str, state: Traced) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        state.asked.append(name)
        action = state.script.pop(0) if state.script else "ok"
        body = await request.json()
        if action == "stream" or (action == "ok" and body.get("stream")):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            for event in fixture("openai/chat_stream.sse").split("\n\n"):
                if event.strip():
                    await response.write((event.strip("\n") + "\n\n").encode())
            await response.write_eof()
            return response
        if action == "ok":
            return web.json_response(fixture("openai/chat_completion.json"))
        if action == "echo":
            return web.json_response(ECHO, status=400)
        return web.json_response(fixture(f"openai/error_{action}.json"), status=int(action))

    return handler


@asynccontextmanager
async def traced_server(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Any,
    ratio: float = 1.0,
    tracing: Tracing | None = None,
) -> AsyncIterator[Traced]:
    """``tracing``: the server's (its spans then bypass ``exporter``)."""
    memory, exporter = in_memory(ratio)
    tracing = tracing or memory
    await registry.settings.set(admin, "gateway.retry", RETRY)
    user = await registry.users.create(admin, UserCreate(email="caller@example.com"))
    key = await registry.keys.create(admin, ApiKeyCreate(name="caller", user_id=user.id))
    state = Traced("", key.key, exporter, [], None)
    chat, embed = ("POST", "/v1/chat/completions"), ("POST", "/v1/embeddings")
    embedded = json_reply(fixture("openai/embeddings.json"))
    async with (
        fake_upstream({chat: _upstream("one", state), embed: embedded}) as one,
        fake_upstream({chat: _upstream("two", state), embed: embedded}) as two,
    ):
        for name, upstream in (("one", one), ("two", two)):
            provider = await registry.providers.create(
                admin,
                {
                    "name": name,
                    "kind": "openai",
                    "base_url": f"{upstream.url}/v1",
                    "api_key": PROVIDER_KEY,
                },
            )
            await registry.models.create(
                admin,
                {
                    "provider_id": provider.id,
                    "model_id": MODEL,
                    "capabilities": ["text", "streaming"],
                    "price": {"input_per_mtok": "1", "output_per_mtok": "2"},
                },
            )
            await registry.models.create(
                admin,
                {"provider_id": provider.id, "model_id": EMBEDDER, "capabilities": ["embedding"]},
            )
        local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
        async with running(local, registry, tracing=tracing) as (url, app):
            state.url, state.app = url, app
            yield state
    memory.close()


def secrets_absent(spans: Iterable[ReadableSpan], *secrets: str) -> None:
    """No attribute, event, name or status of any span holds any of ``secrets``."""
    for span in spans:
        texts = [span.name, str(span.status.description or "")]
        texts += [f"{k}={v}" for k, v in (span.attributes or {}).items()]
        for event in span.events:
            texts += [event.name, *(f"{k}={v}" for k, v in (event.attributes or {}).items())]
        for text in texts:
            for secret in secrets:
                assert secret not in text, (span.name, text)
