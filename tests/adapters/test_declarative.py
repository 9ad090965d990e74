"""The declarative adapter against local fake upstreams: the exact request each config
produces, the translated reply, error mapping and the once-per-config validation."""

from __future__ import annotations

import asyncio
import copy
import traceback
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from modelyard import tokens
from modelyard.adapters import declarative_config as declarative
from modelyard.adapters.base import Usage
from modelyard.adapters.declarative import DeclarativeAdapter
from modelyard.errors import (
    RateLimited,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from modelyard.kinds.declarative_examples import EXAMPLE_GEMINI, EXAMPLE_OPENAI_CHAT
from tests.adapters.declarative_support import (
    ACME,
    ACME_ROUTE,
    GEMINI_ROUTE,
    KEY,
    MESSAGES,
    make_target,
)
from tests.gateway.upstream import fake_upstream, fixture, json_reply

# tests/gateway/upstream.py stores state under a str app key; drop once it uses web.AppKey.


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_openai_style_config_sends_the_callers_request_and_translates_the_reply(
    http: aiohttp.ClientSession,
) -> None:
    routes = {("POST", "/v1/chat/completions"): json_reply(fixture("declarative/openai_chat.json"))}
    async with fake_upstream(routes) as upstream:
        target = make_target(upstream.url, EXAMPLE_OPENAI_CHAT, model_id="gpt-4.1")
        body = {"model": "gpt-4.1", "messages": MESSAGES, "max_completion_tokens": 50}
        result = await DeclarativeAdapter().chat(http, target, body | {"temperature": 0.2})
    [sent] = upstream.received
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.query == {}
    assert sent.body == {
        "model": "gpt-4.1",
        "messages": MESSAGES,
        "stream": False,
        "temperature": 0.2,
        "max_tokens": 50,
    }
    assert result.body["id"].startswith("chatcmpl-")
    assert (result.body["object"], result.body["model"]) == ("chat.completion", "gpt-4.1")
    assert result.body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I assist you today?"},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert result.usage == Usage(19, 10, cached_tokens=3)
    assert result.body["usage"]["total_tokens"] == 29


async def test_gemini_config_sends_the_key_in_the_query_and_contents_in_gemini_form(
    http: aiohttp.ClientSession,
) -> None:
    path = "/v1beta/models/gemini-2.0-flash:generateContent"
    routes = {("POST", path): json_reply(fixture("declarative/gemini_generate.json"))}
    async with fake_upstream(routes) as upstream:
        target = make_target(upstream.url, EXAMPLE_GEMINI, model_id="gemini-2.0-flash")
        body = {"messages": MESSAGES, "temperature": 0.1, "max_tokens": 9, "stop": ["\n"]}
        result = await DeclarativeAdapter().chat(http, target, body)
    [sent] = upstream.received
    assert sent.query == {"key": KEY}
    assert "Authorization" not in sent.headers
    assert sent.body == {
        "contents": [
            {"role": "user", "parts": [{"text": "Say hello"}]},
            {"role": "model", "parts": [{"text": "Hello"}]},
            {"role": "user", "parts": [{"text": "In French"}]},
        ],
        "generationConfig": {"temperature": 0.1, "maxOutputTokens": 9, "stopSequences": ["\n"]},
    }
    assert result.body["choices"][0]["message"]["content"].startswith("A large language")
    assert result.body["choices"][0]["finish_reason"] == "length"
    assert result.usage == Usage(8, 9)


async def test_acme_config_builds_nested_body_header_auth_and_quoted_model_path(
    http: aiohttp.ClientSession,
) -> None:
    raw_paths: list[str] = []
    reply = json_reply(fixture("declarative/acme_reply.json"))

    async def handler(request: web.Request) -> web.StreamResponse:
        raw_paths.append(request.raw_path)
        return await reply(request)

    async with fake_upstream({("POST", "/v2/generate/{model:.+}"): handler}) as upstream:
        target = make_target(upstream.url, ACME, model_id="acme/large v2", headers={"X-Team": "t1"})
        result = await DeclarativeAdapter().chat(http, target, {"messages": MESSAGES})
    [sent] = upstream.received
    assert raw_paths == ["/v2/generate/acme%2Flarge%20v2"]
    assert sent.method == "POST"
    assert sent.headers["X-Acme-Key"] == KEY
    assert sent.headers["X-Acme-Version"] == "2024-06"
    assert sent.headers["X-Team"] == "t1"
    assert "Authorization" not in sent.headers
    assert sent.body == {
        "input": {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Say hello"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "In French"},
            ],
            "system": "Be brief.",
        },
        "generation": {"temperature": 0.5},
        "client": {"name": "modelyard", "safety": {"level": 2, "tags": ["strict"]}},
    }
    assert result.body["choices"][0]["message"]["content"] == "Bonjour tout le monde"
    assert result.body["choices"][0]["finish_reason"] == "length"
    assert result.usage == Usage(21, 6, cached_tokens=4)


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("MAX_TOKENS", "length"),
        ("tool_use", "tool_calls"),
        ("SAFETY", "content_filter"),
        ("something_new", "stop"),
        (None, "stop"),
    ],
)
async def test_finish_reason_maps_to_openai_values(
    http: aiohttp.ClientSession, stop_reason: str | None, expected: str
) -> None:
    reply = {"result": {"outputs": [{"text": "ok", "stop_reason": stop_reason}]}}
    async with fake_upstream({ACME_ROUTE: json_reply(reply)}) as upstream:
        result = await DeclarativeAdapter().chat(
            http, make_target(upstream.url, ACME), {"messages": MESSAGES}
        )
    assert result.body["choices"][0]["finish_reason"] == expected


async def test_usage_is_estimated_when_its_paths_do_not_resolve(
    http: aiohttp.ClientSession,
) -> None:
    reply = {"result": {"text": "Salut, ça va ?"}}  # the second text path
    async with fake_upstream({ACME_ROUTE: json_reply(reply)}) as upstream:
        target = make_target(upstream.url, ACME)
        result = await DeclarativeAdapter().chat(http, target, {"messages": MESSAGES})
    assert result.body["choices"][0]["message"]["content"] == "Salut, ça va ?"
    expected = Usage(
        tokens.estimate_messages(MESSAGES), tokens.estimate_text("Salut, ça va ?"), estimated=True
    )
    assert result.usage == expected


async def test_a_missing_required_param_is_a_bad_request_naming_it(
    http: aiohttp.ClientSession,
) -> None:
    async with fake_upstream({ACME_ROUTE: json_reply({})}) as upstream:
        with pytest.raises(UpstreamBadRequest, match="messages") as caught:
            await DeclarativeAdapter().chat(http, make_target(upstream.url, ACME), {})
    assert caught.value.details == {"param": "messages"}
    assert upstream.received == []


@pytest.mark.parametrize(
    ("status", "error", "retry_after"),
    [
        (429, RateLimited, 7.0),
        (401, UpstreamAuthFailed, None),
        (400, UpstreamBadRequest, None),
        (503, UpstreamUnavailable, 7.0),
        (504, UpstreamTimeout, None),
    ],
)
async def test_upstream_statuses_map_to_domain_errors_with_the_configured_message(
    http: aiohttp.ClientSession, status: int, error: type[UpstreamError], retry_after: float | None
) -> None:
    reply = json_reply(fixture("declarative/acme_error.json"), status, {"Retry-After": "7"})
    async with fake_upstream({ACME_ROUTE: reply}) as upstream:
        target = make_target(upstream.url, ACME)
        with pytest.raises(error, match="Acme quota exhausted") as caught:
            await DeclarativeAdapter().chat(http, target, {"messages": MESSAGES})
    assert caught.value.upstream_status == status
    assert caught.value.retry_after == retry_after


async def test_without_an_error_path_the_message_is_generic(http: aiohttp.ClientSession) -> None:
    config = copy.deepcopy(ACME)
    del config["response_extractor"]["extraction_rules"]["error_message"]
    reply = json_reply(fixture("declarative/acme_error.json"), 500)
    async with fake_upstream({ACME_ROUTE: reply}) as upstream:
        with pytest.raises(UpstreamUnavailable) as caught:
            await (
                DeclarativeAdapter()
                .stream(http, make_target(upstream.url, config), {"messages": MESSAGES})
                .__anext__()
            )
    assert caught.value.message == "acme: upstream returned HTTP 500"


async def test_connection_errors_and_timeouts_map_to_retryable_errors(
    http: aiohttp.ClientSession,
) -> None:
    async def slow(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1)
        return web.Response()

    async with fake_upstream({ACME_ROUTE: slow}) as upstream:
        target = make_target(upstream.url, ACME, timeout_s=0.1)
        with pytest.raises(UpstreamTimeout):
            await DeclarativeAdapter().chat(http, target, {"messages": MESSAGES})
        closed_url = upstream.url
    with pytest.raises(UpstreamUnavailable, match="cannot reach upstream"):
        await DeclarativeAdapter().chat(http, make_target(closed_url, ACME), {"messages": MESSAGES})


async def test_a_query_auth_key_never_appears_in_raised_errors(
    http: aiohttp.ClientSession,
) -> None:
    echo = {"error": {"message": f"API key {KEY} not valid. Please pass a valid API key."}}
    async with fake_upstream({GEMINI_ROUTE: json_reply(echo, 400)}) as upstream:
        target = make_target(upstream.url, EXAMPLE_GEMINI)
        with pytest.raises(UpstreamBadRequest) as rejected:
            await DeclarativeAdapter().chat(http, target, {"messages": MESSAGES})
    with pytest.raises(UpstreamUnavailable) as unreachable:
        await DeclarativeAdapter().chat(http, target, {"messages": MESSAGES})
    for caught in (rejected, unreachable):
        said = "".join(traceback.format_exception(caught.value)) + repr(caught.value.details)
        assert KEY not in said
    assert "API key *** not valid" in rejected.value.message


async def test_the_config_is_validated_once_not_per_request(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    real = declarative.validate_declarative

    def counting(raw: object) -> Any:
        calls.append(raw)
        return real(raw)

    monkeypatch.setattr("modelyard.adapters.declarative_build.validate_declarative", counting)
    adapter = DeclarativeAdapter()
    reply = json_reply(fixture("declarative/acme_reply.json"))
    async with fake_upstream({ACME_ROUTE: reply}) as upstream:
        target = make_target(upstream.url, ACME)
        for _ in range(3):
            await adapter.chat(http, target, {"messages": MESSAGES})
        refreshed = make_target(upstream.url, copy.deepcopy(ACME))  # a new snapshot, same config
        await adapter.chat(http, refreshed, {"messages": MESSAGES})
    assert len(calls) == 1
    assert len(upstream.received) == 4


async def test_embeddings_are_not_supported(http: aiohttp.ClientSession) -> None:
    with pytest.raises(UpstreamBadRequest, match="do not support embeddings"):
        await DeclarativeAdapter().embed(http, make_target("http://unused", ACME), {"input": "x"})


async def test_a_success_reply_that_is_not_json_is_an_upstream_error(
    http: aiohttp.ClientSession,
) -> None:
    async def html(_: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    async with fake_upstream({ACME_ROUTE: html}) as upstream:
        target = make_target(upstream.url, ACME)
        with pytest.raises(UpstreamError, match="not JSON"):
            await DeclarativeAdapter().chat(http, target, {"messages": MESSAGES})
