"""The /v1 ingresses against hostile callers and broken upstreams: an upstream's malformed
answer is a 502 naming the upstream (never a 500), and what a call holds is released."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web

from modelyard.billing.credits import GrantCreate
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running
from tests.gateway.upstream import Upstream, fake_upstream

PRICE = {"input_per_mtok": "2", "output_per_mtok": "8"}
CAPABILITIES = ["text", "streaming", "function_calling"]


@dataclass
class Rig:
    url: str
    key: str
    app: Any
    registry: Registry
    admin: Actor
    upstream: Upstream
    poor_key: str  # a user's with 1 credit: 1250 completion tokens at PRICE
    replies: dict[str, Any] = field(default_factory=dict)  # path -> the JSON to answer


@pytest.fixture
async def rig(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    replies: dict[str, Any] = {}

    async def answer(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        reply = replies[request.path]
        if not body.get("stream"):
            return web.Response(body=orjson.dumps(reply), content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in reply:  # a stream's reply: its chunks
            await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    routes = {
        ("POST", "/compat/v1/chat/completions"): answer,
        ("POST", "/native/v1/responses"): answer,
        ("POST", "/v1/messages"): answer,
    }
    async with fake_upstream(routes) as upstream:
        for name, kind, base, model in (
            ("up-compat", "openai_compatible", f"{upstream.url}/compat/v1", "compat-model"),
            ("up-native", "openai", f"{upstream.url}/native/v1", "native-model"),
            ("up-claude", "anthropic", upstream.url, "claude-model"),
        ):
            provider = await registry.providers.create(
                admin, {"name": name, "kind": kind, "base_url": base, "api_key": "k-up"}
            )
            spec = {"provider_id": provider.id, "model_id": model, "price": PRICE}
            await registry.models.create(admin, spec | {"capabilities": CAPABILITIES})
        user = await registry.users.create(admin, UserCreate(email="app@example.com"))
        key = (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key
        await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=Decimal(100)))
        poor = await _poor(registry, admin)
        local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
        async with running(local, registry) as (url, app):
            yield Rig(url, key, app, registry, admin, upstream, poor, replies)


async def _poor(registry: Registry, admin: Actor) -> str:
    user = await registry.users.create(admin, UserCreate(email="poor@example.com"))
    created = await registry.keys.create(admin, ApiKeyCreate(name="p", user_id=user.id))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=Decimal(1)))
    return created.key


async def _post(rig: Rig, path: str, body: Any, key: str | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=rig.url, timeout=30) as client:
        headers = {"authorization": f"Bearer {key or rig.key}"}
        return await client.post(path, json=body, headers=headers)


USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
MALFORMED_CHAT = [
    {"choices": {"0": {}}, "usage": USAGE},
    {"choices": [{"message": {"role": "assistant", "tool_calls": ["x"]}}], "usage": USAGE},
    {"choices": [{"message": {"tool_calls": [{"function": "f"}]}}], "usage": USAGE},
    {"choices": [{"message": {"tool_calls": 5}}], "usage": USAGE},
]


@pytest.mark.parametrize("reply", MALFORMED_CHAT)
async def test_a_malformed_chat_answer_is_no_500_on_responses(rig: Rig, reply: Any) -> None:
    rig.replies["/compat/v1/chat/completions"] = reply
    response = await _post(rig, "/v1/responses", {"model": "compat-model", "input": "hi"})
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "response"


async def test_a_responses_usage_with_a_string_count_is_no_500(rig: Rig) -> None:
    usage = {"input_tokens": 3, "output_tokens": "2", "input_tokens_details": []}
    rig.replies["/native/v1/responses"] = {"object": "response", "output": [], "usage": usage}
    response = await _post(rig, "/v1/responses", {"model": "native-model", "input": "hi"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("reply", MALFORMED_CHAT)
async def test_a_malformed_chat_answer_is_no_500_on_messages(rig: Rig, reply: Any) -> None:
    rig.replies["/compat/v1/chat/completions"] = reply
    body = {
        "model": "compat-model",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
    }
    response = await _post(rig, "/v1/messages", body)
    assert response.status_code == 200, response.text
    message = response.json()
    assert message["type"] == "message"
    assert all(isinstance(block.get("id", ""), str) for block in message["content"])


BASE = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
MALFORMED_CHUNKS = [
    [BASE | {"choices": 5}, BASE | {"choices": [{"index": 0, "delta": {"content": "ok"}}]}],
    [BASE | {"choices": [{"index": 0, "delta": {"content": "ok", "tool_calls": 5}}]}],
    [BASE | {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": [0]}]}}]}],
]


@pytest.mark.parametrize("chunks", MALFORMED_CHUNKS)
async def test_a_malformed_chat_stream_is_no_500_on_responses(rig: Rig, chunks: Any) -> None:
    rig.replies["/compat/v1/chat/completions"] = chunks
    body = {"model": "compat-model", "input": "hi", "stream": True}
    response = await _post(rig, "/v1/responses", body)
    assert response.status_code == 200, response.text
    assert "event: response.completed" in response.text


@pytest.mark.parametrize("chunks", MALFORMED_CHUNKS)
async def test_a_malformed_chat_stream_is_no_500_on_messages(rig: Rig, chunks: Any) -> None:
    rig.replies["/compat/v1/chat/completions"] = chunks
    message = {"role": "user", "content": "hi"}
    body = {"model": "compat-model", "max_tokens": 50, "messages": [message], "stream": True}
    response = await _post(rig, "/v1/messages", body)
    assert response.status_code == 200, response.text
    assert "event: message_stop" in response.text
    assert "event: error" not in response.text


async def test_a_malformed_stored_output_is_no_500_in_a_later_turn(rig: Rig) -> None:
    """An OpenAI upstream's output items missing their fields are stored as they came; a later
    turn sent through the chat translation reads them leniently."""
    output = [
        {"type": "function_call"},
        {"type": "message", "role": "assistant"},
        {"type": "message", "content": [{"type": "output_text", "text": "x"}]},
        {"type": "function_call_output", "call_id": 5},
    ]
    rig.replies["/native/v1/responses"] = {"object": "response", "output": output}
    first = await _post(rig, "/v1/responses", {"model": "native-model", "input": "hi"})
    assert first.status_code == 200, first.text
    rig.replies["/compat/v1/chat/completions"] = {
        "choices": [{"message": {"role": "assistant", "content": "ok"}}],
        "usage": USAGE,
    }
    body = {"model": "compat-model", "input": "again", "previous_response_id": first.json()["id"]}
    second = await _post(rig, "/v1/responses", body)
    assert second.status_code == 200, second.text
    assert second.json()["output"][0]["content"][0]["text"] == "ok"


N = 8
AFFORDABLE = 1250  # completion tokens 1 credit pays for: $0.01 at $8 per million


def _sent_max_tokens(rig: Rig) -> list[int]:
    path = "/compat/v1/chat/completions"
    return [r.body["max_tokens"] for r in rig.upstream.received if r.path == path]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
        ("/v1/completions", {"prompt": "hi"}),
        ("/v1/completions", {"prompt": ["hi", "ho"]}),
    ],
)
async def test_n_choices_are_held_and_capped_for_all_of_them(
    rig: Rig, path: str, body: Any
) -> None:
    """``n`` completions of up to ``max_tokens`` each may cost n times one: the hold covers
    them all, and a balance that pays for fewer caps each so that all n fit in it."""
    reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}]}
    rig.replies["/compat/v1/chat/completions"] = reply | {"usage": USAGE}
    key = rig.poor_key
    asked = {"model": "compat-model", "max_tokens": 1000, "n": N} | body
    response = await _post(rig, path, asked, key)
    assert response.status_code == 200, response.text
    sent = _sent_max_tokens(rig)
    assert sent, "the upstream was not asked"
    assert sum(sent) * N <= AFFORDABLE, sent


CLAUDE_USAGE = {"input_tokens": 3, "output_tokens": 2}


async def test_an_anthropic_message_with_malformed_content_is_no_500(rig: Rig) -> None:
    rig.replies["/v1/messages"] = {"type": "message", "content": 5}  # and no usage
    message = {"role": "user", "content": "hi"}
    body = {"model": "claude-model", "max_tokens": 50, "messages": [message]}
    response = await _post(rig, "/v1/messages", body)
    assert response.status_code == 200, response.text


async def test_an_anthropic_stream_with_malformed_events_is_no_500(rig: Rig) -> None:
    rig.replies["/v1/messages"] = [
        {"type": "message_start", "message": "x"},
        {"type": "content_block_delta", "index": 0, "delta": "y"},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": CLAUDE_USAGE},
        {"type": "message_stop"},
    ]
    message = {"role": "user", "content": "hi"}
    body = {"model": "claude-model", "max_tokens": 50, "messages": [message], "stream": True}
    response = await _post(rig, "/v1/messages", body)
    assert response.status_code == 200, response.text
    assert "event: message_stop" in response.text


def _nested(levels: int) -> str:
    """A JSON schema ``levels`` objects deep."""
    return '{"a":' * (levels - 1) + "{}" + "}" * (levels - 1)


DEEP_BODIES = [
    (
        "/v1/chat/completions",
        '{"model":"compat-model","messages":[{"role":"user","content":"hi"}],'
        '"tools":[{"type":"function","function":{"name":"f","parameters":%s}}]}',
    ),
    (
        "/v1/responses",
        '{"model":"compat-model","input":"hi",'
        '"tools":[{"type":"function","name":"f","parameters":%s}]}',
    ),
    (
        "/v1/messages",
        '{"model":"compat-model","max_tokens":10,'
        '"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":{"type":"object","x":%s}}]}',
    ),
]


@pytest.mark.parametrize(("path", "template"), DEEP_BODIES)
async def test_a_body_nested_too_deep_is_a_400(rig: Rig, path: str, template: str) -> None:
    """Deeper than the encoder of upstream requests goes (it read fine), it was a 500 once
    translated; now a 400 before anything is sent. A body just within the limit is served."""
    reply = {"choices": [{"message": {"role": "assistant", "content": "ok"}}], "usage": USAGE}
    rig.replies["/compat/v1/chat/completions"] = reply
    headers = {"authorization": f"Bearer {rig.key}", "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=rig.url, timeout=30) as client:
        deep = await client.post(path, content=template % _nested(300), headers=headers)
        within = await client.post(path, content=template % _nested(190), headers=headers)
    assert deep.status_code == 400, deep.text
    assert "nests deeper than 200 levels" in deep.text
    assert within.status_code == 200, within.text


@pytest.mark.parametrize("reply", MALFORMED_CHAT)
async def test_a_malformed_chat_answer_is_no_500_on_completions(rig: Rig, reply: Any) -> None:
    rig.replies["/compat/v1/chat/completions"] = reply
    response = await _post(rig, "/v1/completions", {"model": "compat-model", "prompt": "hi"})
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "text_completion"


@pytest.mark.parametrize("chunks", MALFORMED_CHUNKS)
async def test_a_malformed_chat_stream_is_no_500_on_completions(rig: Rig, chunks: Any) -> None:
    rig.replies["/compat/v1/chat/completions"] = chunks
    body = {"model": "compat-model", "prompt": "hi", "stream": True}
    response = await _post(rig, "/v1/completions", body)
    assert response.status_code == 200, response.text
    assert response.text.rstrip().endswith("data: [DONE]"), response.text
    assert '"error"' not in response.text


async def test_an_openai_stream_cut_before_its_end_ends_with_response_failed(rig: Rig) -> None:
    """An upstream that closes its Responses stream before ``response.completed`` failed:
    the caller is told with ``response.failed``, and nothing is stored."""
    created = {"id": "resp_up", "object": "response", "status": "in_progress", "output": []}
    rig.replies["/native/v1/responses"] = [
        {"type": "response.created", "response": created},
        {"type": "response.output_text.delta", "item_id": "m", "delta": "Once"},
    ]
    body = {"model": "native-model", "input": "hi", "stream": True}
    response = await _post(rig, "/v1/responses", body)
    assert response.status_code == 200, response.text
    assert "event: response.failed" in response.text, response.text
    first = response.text.split("\n")[1].removeprefix("data: ")
    response_id = orjson.loads(first)["response"]["id"]
    async with httpx.AsyncClient(base_url=rig.url, timeout=30) as client:
        headers = {"authorization": f"Bearer {rig.key}"}
        stored = await client.get(f"/v1/responses/{response_id}", headers=headers)
    assert stored.status_code == 404, stored.text
