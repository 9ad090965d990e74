"""A /v1 call's spans, in process (the SDK's in-memory exporter): the request's SERVER span
named "{operation} {model}" with the GenAI attributes, one CLIENT child per attempt (retries
and fallbacks in order), the upstream HTTP request under each, streams ending with the
stream, failures as status and class only, the caller's traceparent continued, and never a
key, a prompt or a completion in any attribute."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.telemetry.rig import (
    EMBEDDER,
    MODEL,
    PROVIDER_KEY,
    Traced,
    secrets_absent,
    traced_server,
)

ASK = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "the secret prompt text"}],
    "max_tokens": 50,
    "temperature": 0.5,
}
PROMPT = "the secret prompt text"
COMPLETION = "wooden boardwalk"  # in the recorded completion the upstream answers with


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """Spans do not depend on the database: SQLite alone."""
    path = tmp_path / "modelyard.db"
    path.write_bytes(sqlite_template.read_bytes())
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def traced(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Path
) -> AsyncIterator[Traced]:
    async with traced_server(settings, registry, admin, tmp_path) as state:
        yield state


def tree(spans: list[ReadableSpan]) -> tuple[ReadableSpan, list[ReadableSpan], list[ReadableSpan]]:
    """The request's span, its attempts (in order) and the upstream requests: one trace."""
    (root,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    attempts = [s for s in spans if s.parent and s.parent.span_id == root.context.span_id]
    attempts.sort(key=lambda s: s.attributes["modelyard.attempt"])
    ids = {a.context.span_id for a in attempts}
    http = [s for s in spans if s.parent and s.parent.span_id in ids]
    assert len(spans) == 1 + len(attempts) + len(http)
    return root, attempts, http


async def test_a_chat_call_is_a_request_span_an_attempt_and_its_upstream_request(
    traced: Traced,
) -> None:
    answer = await traced.post(ASK)
    assert answer.status_code == 200, answer.text
    root, attempts, http = tree(traced.spans())
    assert root.name == f"chat {MODEL}"
    attrs = dict(root.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == MODEL
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert attrs["gen_ai.response.id"] == answer.json()["id"]
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    usage = answer.json()["usage"]
    assert attrs["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert attrs["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["modelyard.request_id"] == answer.headers["x-request-id"]
    assert attrs["modelyard.provider.name"] == traced.asked[0]
    assert attrs["modelyard.attempts"] == 1
    assert attrs["modelyard.cost"] > 0
    assert attrs["http.response.status_code"] == 200
    assert root.status.status_code == StatusCode.UNSET
    (attempt,) = attempts
    assert attempt.kind == SpanKind.CLIENT
    assert attempt.name == f"chat {MODEL}"
    assert attempt.attributes["modelyard.attempt"] == 1
    assert attempt.attributes["modelyard.fallback"] is False
    (request,) = http
    assert request.kind == SpanKind.CLIENT
    assert request.attributes["http.request.method"] == "POST"
    assert request.attributes["server.address"] == "127.0.0.1"
    assert request.attributes["http.response.status_code"] == 200
    assert str(request.attributes["url.full"]).endswith("/v1/chat/completions")
    secrets_absent(traced.spans(), PROVIDER_KEY, traced.key, PROMPT, COMPLETION)


async def test_retries_and_a_fallback_are_attempts_in_order_each_with_its_request(
    traced: Traced,
) -> None:
    traced.script[:] = ["500", "503"]  # both tries of the first provider fail; the next serves
    answer = await traced.post(ASK)
    assert answer.status_code == 200, answer.text
    first, _, second = traced.asked
    assert first != second
    root, attempts, http = tree(traced.spans())
    seen = [
        (a.attributes["modelyard.attempt"], a.attributes["modelyard.provider.name"],
         a.attributes["modelyard.fallback"], a.status.status_code)
        for a in attempts
    ]  # fmt: skip
    assert seen == [
        (1, first, False, StatusCode.ERROR),
        (2, first, False, StatusCode.ERROR),
        (3, second, True, StatusCode.UNSET),
    ]
    errors = [a.attributes["error.type"] for a in attempts[:2]]
    assert errors == ["UPSTREAM_UNAVAILABLE"] * 2
    by_parent = {s.parent.span_id: s for s in http if s.parent}
    statuses = [
        by_parent[a.context.span_id].attributes["http.response.status_code"] for a in attempts
    ]
    assert statuses == [500, 503, 200]
    assert root.attributes["modelyard.attempts"] == 3
    assert root.attributes["modelyard.fallbacks"] == 1
    assert root.attributes["modelyard.provider.name"] == second
    assert root.status.status_code == StatusCode.UNSET
    secrets_absent(traced.spans(), PROVIDER_KEY, traced.key, PROMPT)


async def test_a_stream_span_ends_with_the_stream_and_says_its_time_to_first_token(
    traced: Traced,
) -> None:
    answer = await traced.post({**ASK, "stream": True, "stream_options": {"include_usage": True}})
    assert answer.status_code == 200
    assert answer.text.rstrip().endswith("data: [DONE]")
    root, (attempt,), (request,) = tree(traced.spans())
    assert root.name == f"chat {MODEL}"
    attrs: dict[str, Any] = dict(root.attributes or {})
    assert attrs["modelyard.time_to_first_token_ms"] >= 0
    assert [e.name for e in root.events] == ["gen_ai.first_token"]
    assert attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["modelyard.status"] == "ok"
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    # the attempt ends with the stream (after the first token), its request at the headers
    assert root.events[0].timestamp <= attempt.end_time <= root.end_time
    assert request.end_time <= attempt.end_time
    secrets_absent(traced.spans(), PROVIDER_KEY, traced.key, PROMPT)


async def test_a_failed_call_is_an_error_span_with_its_code_never_the_upstreams_message(
    traced: Traced,
) -> None:
    traced.script[:] = ["echo"]  # a 400 quoting the provider key back
    answer = await traced.post(ASK)
    assert answer.status_code == 400
    root, (attempt,), (request,) = tree(traced.spans())
    assert root.status.status_code == StatusCode.ERROR
    assert root.attributes["error.type"] == "UPSTREAM_BAD_REQUEST"
    assert root.attributes["modelyard.status"] == "error"
    assert attempt.status.status_code == StatusCode.ERROR
    assert attempt.attributes["exception.type"] == "UpstreamBadRequest"
    assert request.attributes["http.response.status_code"] == 400
    assert not any(s.events for s in traced.spans())  # no exception event with its message
    secrets_absent(traced.spans(), PROVIDER_KEY, traced.key, "Incorrect API key")


async def test_an_incoming_traceparent_is_continued(traced: Traced) -> None:
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    answer = await traced.post(ASK, traceparent=f"00-{trace_id}-{parent}-01")
    assert answer.status_code == 200
    root, attempts, _ = tree(traced.spans())
    assert f"{root.context.trace_id:032x}" == trace_id
    assert f"{root.parent.span_id:016x}" == parent
    assert len(attempts) == 1


async def test_a_refused_call_and_the_models_list_are_request_spans_too(traced: Traced) -> None:
    refused = await traced.post({**ASK, "model": "no-such-model"})
    assert refused.status_code == 404
    async with __import__("httpx").AsyncClient() as http:
        listed = await http.get(
            f"{traced.url}/v1/models", headers={"Authorization": f"Bearer {traced.key}"}
        )
    assert listed.status_code == 200
    spans = traced.spans()
    assert [s.name for s in spans] == ["POST /v1/chat/completions", "GET /v1/models"]
    assert spans[0].attributes["http.response.status_code"] == 404
    assert spans[0].status.status_code == StatusCode.UNSET  # the caller's mistake, not ours
    secrets_absent(spans, traced.key)


async def test_an_admin_request_is_a_span_named_by_its_route_and_probes_are_none(
    traced: Traced, admin_key: str
) -> None:
    import httpx

    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {admin_key}"}) as http:
        assert (await http.get(f"{traced.url}/health")).status_code == 200
        listed = await http.get(f"{traced.url}/api/v1/providers")
        one = listed.json()["items"][0]["id"]
        assert (await http.get(f"{traced.url}/api/v1/providers/{one}")).status_code == 200
    names = [s.name for s in traced.spans()]
    assert names == ["GET /api/v1/providers", "GET /api/v1/providers/{provider_id}"]
    assert all(s.kind == SpanKind.SERVER for s in traced.spans())
    secrets_absent(traced.spans(), admin_key, PROVIDER_KEY)


async def test_an_anthropic_messages_call_is_traced_like_chat(traced: Traced) -> None:
    body = {"model": MODEL, "max_tokens": 50, "messages": [{"role": "user", "content": PROMPT}]}
    answer = await traced.post(body, "/v1/messages", **{"anthropic-version": "2023-06-01"})
    assert answer.status_code == 200, answer.text
    root, (attempt,), (request,) = tree(traced.spans())
    assert root.name == f"chat {MODEL}"
    attrs = dict(root.attributes or {})
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.usage.output_tokens"] == answer.json()["usage"]["output_tokens"]
    assert attrs["gen_ai.response.finish_reasons"] == (answer.json()["stop_reason"],)
    assert attempt.attributes["gen_ai.provider.name"] == "openai"
    assert request.attributes["http.response.status_code"] == 200
    secrets_absent(traced.spans(), PROVIDER_KEY, traced.key, PROMPT, COMPLETION)


async def test_an_embeddings_call_is_an_embeddings_span(traced: Traced) -> None:
    answer = await traced.post({"model": EMBEDDER, "input": PROMPT}, "/v1/embeddings")
    assert answer.status_code == 200, answer.text
    root, (attempt,), (request,) = tree(traced.spans())
    assert root.name == f"embeddings {EMBEDDER}"
    assert root.attributes["gen_ai.operation.name"] == "embeddings"
    assert root.attributes["gen_ai.usage.input_tokens"] == 13
    assert attempt.name == f"embeddings {EMBEDDER}"
    assert str(request.attributes["url.full"]).endswith("/v1/embeddings")
    secrets_absent(traced.spans(), PROVIDER_KEY, traced.key, PROMPT)
