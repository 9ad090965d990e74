"""The fake adapter: deterministic OpenAI-shaped replies, streams and embeddings from its
configuration, failures for the first N calls of a provider, and no network at all."""

from __future__ import annotations

import asyncio
import base64
import math
import time
from array import array
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from modelyard import tokens
from modelyard.adapters.base import StreamChunk, Target, Usage
from modelyard.adapters.fake import ADAPTER, FakeAdapter
from modelyard.errors import (
    RateLimited,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

ASK = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "an answer"},
    {
        "role": "user",
        "content": [{"type": "text", "text": "echo "}, {"type": "text", "text": "me"}],
    },
]


def make_target(provider_id: str = "p1", **config: Any) -> Target:
    return Target(
        provider_id=provider_id,
        provider_name=f"fake-{provider_id}",
        kind="fake",
        base_url="http://fake.invalid",
        api_key=None,
        model_id="fake-model",
        config=config,
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # a session that cannot reach anything: the fake must never use it
    async with aiohttp.ClientSession(base_url="http://fake.invalid") as session:
        yield session


async def stream(http: aiohttp.ClientSession, target: Target, body: Any) -> list[StreamChunk]:
    return [chunk async for chunk in ADAPTER.stream(http, target, body)]


def without_ids(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("id", "created")}


async def test_a_chat_reply_is_an_openai_completion_of_the_configured_text(
    http: aiohttp.ClientSession,
) -> None:
    before = int(time.time())
    result = await ADAPTER.chat(http, make_target(reply="Hello there."), {"messages": ASK})
    body = result.body
    assert body["id"].startswith("chatcmpl-fake-")
    assert before <= body["created"] <= time.time()
    assert without_ids(body) == {
        "object": "chat.completion",
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there.", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": tokens.estimate_messages(ASK),
            "completion_tokens": tokens.estimate_text("Hello there."),
            "total_tokens": result.usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }
    assert result.usage.estimated


async def test_replies_are_deterministic_but_ids_are_unique(http: aiohttp.ClientSession) -> None:
    target = make_target()
    first, second = [await ADAPTER.chat(http, target, {"messages": ASK}) for _ in range(2)]
    assert without_ids(first.body) == without_ids(second.body)
    assert first.body["choices"][0]["message"]["content"] == "This is a fake reply."
    assert first.body["id"] != second.body["id"]


@pytest.mark.parametrize(
    ("messages", "reply"),
    [
        (ASK, "echo me"),
        (ASK[:2], "first question"),
        (ASK[:1], "This is a fake reply."),  # no user message: the configured reply
    ],
)
async def test_echo_replies_with_the_last_user_message(
    http: aiohttp.ClientSession, messages: list[dict[str, Any]], reply: str
) -> None:
    result = await ADAPTER.chat(http, make_target(echo=True), {"messages": messages})
    assert result.body["choices"][0]["message"]["content"] == reply


async def test_configured_token_counts_are_reported_as_is(http: aiohttp.ClientSession) -> None:
    target = make_target(prompt_tokens=1000, completion_tokens=500)
    result = await ADAPTER.chat(http, target, {"messages": ASK})
    assert result.usage == Usage(1000, 500)
    assert result.body["usage"]["total_tokens"] == 1500


@pytest.mark.parametrize(("count", "deltas"), [(1, 1), (3, 3), (7, 7), (50, 17)])
async def test_a_stream_sends_role_then_the_reply_in_n_deltas_then_finish_then_usage(
    http: aiohttp.ClientSession, count: int, deltas: int
) -> None:
    reply = "hello from fake-a"  # 17 characters
    chunks = await stream(http, make_target(reply=reply, stream_chunks=count), {"messages": ASK})
    assert len(chunks) == 1 + deltas + 2
    assert chunks[0].chunk["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    pieces = [c.chunk["choices"][0]["delta"]["content"] for c in chunks[1:-2]]
    assert len(pieces) == deltas
    assert all(pieces)
    assert "".join(pieces) == reply
    assert chunks[-2].chunk["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert chunks[-1].chunk["choices"] == []
    assert chunks[-1].usage == Usage(
        tokens.estimate_messages(ASK), tokens.estimate_text(reply), estimated=True
    )
    assert chunks[-1].chunk["usage"]["total_tokens"] == chunks[-1].usage.total_tokens
    assert [c.usage for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert {c.chunk["id"] for c in chunks} == {chunks[0].chunk["id"]}
    assert {c.chunk["object"] for c in chunks} == {"chat.completion.chunk"}


@pytest.mark.parametrize(
    ("fail_with", "error"),
    [
        ("rate_limited", RateLimited),
        ("timeout", UpstreamTimeout),
        ("unavailable", UpstreamUnavailable),
        ("auth", UpstreamAuthFailed),
        ("bad_request", UpstreamBadRequest),
    ],
)
@pytest.mark.parametrize("op", ["chat", "stream", "embed"])
async def test_the_first_fail_times_calls_fail_then_calls_succeed(
    http: aiohttp.ClientSession, fail_with: str, error: type[UpstreamError], op: str
) -> None:
    adapter = FakeAdapter()
    target = make_target(fail_with=fail_with, fail_times=2)

    async def call() -> Any:
        if op == "chat":
            return await adapter.chat(http, target, {"messages": ASK})
        if op == "embed":
            return await adapter.embed(http, target, {"input": "x"})
        return [chunk async for chunk in adapter.stream(http, target, {"messages": ASK})]

    for attempt in (1, 2):
        with pytest.raises(error, match=f"call {attempt} of 2") as caught:
            await call()
        assert type(caught.value) is error
        assert caught.value.retry_after == (0.0 if error is RateLimited else None)
    assert await call()
    assert await call()


async def test_failures_are_counted_per_provider(http: aiohttp.ClientSession) -> None:
    adapter = FakeAdapter()
    flaky = {"fail_with": "unavailable", "fail_times": 1}
    with pytest.raises(UpstreamUnavailable):
        await adapter.chat(http, make_target("a", **flaky), {"messages": ASK})
    with pytest.raises(UpstreamUnavailable):  # another provider: its own first call
        await adapter.chat(http, make_target("b", **flaky), {"messages": ASK})
    assert await adapter.chat(http, make_target("a", **flaky), {"messages": ASK})


async def test_latency_delays_the_reply(http: aiohttp.ClientSession) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await ADAPTER.chat(http, make_target(latency_ms=50), {"messages": ASK})
    assert loop.time() - started >= 0.045


async def test_embeddings_have_the_configured_dims_and_depend_only_on_the_text(
    http: aiohttp.ClientSession,
) -> None:
    target = make_target(embedding_dims=12)
    result = await ADAPTER.embed(http, target, {"input": ["alpha", "beta", "alpha"]})
    vectors = [item["embedding"] for item in result.body["data"]]
    assert [item["index"] for item in result.body["data"]] == [0, 1, 2]
    assert all(len(v) == 12 for v in vectors)
    assert vectors[0] == vectors[2] != vectors[1]
    assert math.isclose(sum(x * x for x in vectors[0]), 1.0)
    again = await FakeAdapter().embed(
        http, make_target("other", embedding_dims=12), {"input": "beta"}
    )
    assert again.body["data"][0]["embedding"] == vectors[1]
    assert result.body["model"] == "fake-model"
    assert result.usage == Usage(tokens.estimate_inputs(["alpha", "beta", "alpha"]), estimated=True)
    prompt = result.usage.prompt_tokens
    assert result.body["usage"] == {"prompt_tokens": prompt, "total_tokens": prompt}


async def test_embeddings_honour_dimensions_and_base64(http: aiohttp.ClientSession) -> None:
    body = {"input": "alpha", "dimensions": 5, "encoding_format": "base64"}
    result = await ADAPTER.embed(http, make_target(prompt_tokens=9), body)
    packed = array("f", base64.b64decode(result.body["data"][0]["embedding"]))
    plain = await ADAPTER.embed(http, make_target(), {"input": "alpha", "dimensions": 5})
    assert list(packed) == pytest.approx(plain.body["data"][0]["embedding"], rel=1e-6)
    assert result.usage == Usage(9, 0)


async def test_embeddings_need_an_input(http: aiohttp.ClientSession) -> None:
    with pytest.raises(UpstreamBadRequest) as caught:
        await ADAPTER.embed(http, make_target(), {"input": []})
    assert caught.value.details == {"param": "input"}
