"""Support for tests/gateway/test_e2e_anthropic.py: a fake Anthropic Messages API that refuses
what the real one would (and what must never reach it), and a rig that runs a modelyard server
in front of it with an ``openai`` SDK client whose every response body is kept, so a test can
check that the planted upstream key reached no client and no log."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import openai
import pytest
from aiohttp import web
from sqlalchemy import select

from modelyard.db.tables import UsageEvent
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running
from tests.gateway.upstream import Handler, Upstream, fixture, json_reply

KEY = "sk-ant-api03-E2E-planted-upstream-secret-7f3a9c"
MODEL = "claude-sonnet-4-5-20250929"
VERSION = "2023-06-01"
BLOCKS = {"text", "image", "tool_use", "tool_result"}
TOOL_FIELDS = {"name", "description", "input_schema"}
OPENAI_ONLY = {
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "stream_options",
    "response_format",
    "max_completion_tokens",
    "parallel_tool_calls",
    "user",
    "stop",
}


def text_reply(**changes: Any) -> Handler:
    """The recorded text message, with ``changes`` (e.g. another ``stop_reason``)."""
    return json_reply(fixture("anthropic/message_text.json") | changes)


def error_reply(status: int, message: str | None = None, **headers: str) -> Handler:
    """A recorded Anthropic error document, its ``error.message`` replaced if given."""
    document = fixture(f"anthropic/error_{status}.json")
    if message is not None:
        document["error"]["message"] = message
    return json_reply(document, status, headers)


def header_problems(headers: Mapping[str, str]) -> list[str]:
    found = []
    if headers.get("x-api-key") != KEY:
        found.append("x-api-key is not the configured key")
    if headers.get("anthropic-version") != VERSION:
        found.append(f"anthropic-version is {headers.get('anthropic-version')!r}")
    if "authorization" in {name.lower() for name in headers}:
        found.append("an Authorization header was sent")
    return found


def _block_problems(where: str, block: Any) -> list[str]:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind not in BLOCKS:
        return [f"{where}: unknown content block type {kind!r}"]
    if kind == "image" and block.get("source", {}).get("type") not in ("base64", "url"):
        return [f"{where}: an image source is base64 or url"]
    return []


def body_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    found = [f"{name}: an OpenAI-only field" for name in sorted(OPENAI_ONLY & set(body))]
    if body.get("model") != MODEL or not isinstance(body.get("max_tokens"), int):
        found.append("model and an integer max_tokens are required")
    if not isinstance(body.get("system", ""), str):
        found.append("system must be a string")
    messages = body.get("messages") or []
    roles = [m.get("role") for m in messages]
    if not roles or set(roles[::2]) != {"user"} or "user" in roles[1::2]:
        found.append(f"messages must alternate user/assistant, user first: {roles}")
    for i, message in enumerate(messages):
        blocks = message.get("content")
        for j, block in enumerate(blocks if isinstance(blocks, list) else ()):
            found += _block_problems(f"messages.{i}.content.{j}", block)
    for i, tool in enumerate(body.get("tools") or ()):
        if "input_schema" not in tool or not set(tool) <= TOOL_FIELDS:
            found.append(f"tools.{i}: not an Anthropic tool: {sorted(tool)}")
    return found


@dataclass
class FakeAnthropic:
    """``POST /v1/messages``: replies are used in order, the last one repeats. A request the
    real API would refuse gets a 400 and is kept in ``problems``."""

    replies: list[Handler] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    upstream: Upstream | None = None

    async def messages(self, request: web.Request) -> web.StreamResponse:
        self.times.append(time.monotonic())
        try:
            body = await request.json()
        except ValueError:
            body = None
        found = header_problems(request.headers) + body_problems(body)
        if found:
            self.problems += found
            return await error_reply(400, "; ".join(found))(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return await reply(request)

    @property
    def bodies(self) -> list[Any]:
        """The JSON bodies received, in order."""
        assert self.upstream is not None
        return [r.body for r in self.upstream.received]


class _Tee(httpx.AsyncByteStream):
    """Passes a response body through to the SDK as it arrives, keeping a copy."""

    def __init__(self, inner: Any, into: bytearray) -> None:
        self.inner, self.into = inner, into

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self.inner:
            self.into += part
            yield part

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Tap(httpx.AsyncHTTPTransport):
    def __init__(self, into: bytearray) -> None:
        super().__init__()
        self.into = into

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Tee(response.stream, self.into),
            extensions=response.extensions,
        )


@dataclass
class Rig:
    settings: Settings
    registry: Registry
    caller_key: str
    fake: FakeAnthropic
    caplog: pytest.LogCaptureFixture
    seen: bytearray = field(default_factory=bytearray)  # every response body the client read

    def reply(self, *handlers: Handler) -> None:
        self.fake.replies[:] = handlers

    @asynccontextmanager
    async def client(self) -> AsyncIterator[openai.AsyncOpenAI]:
        """A modelyard server and an SDK client for it. On a clean exit (the server stopped,
        so its usage rows are written) the fake upstream must have had nothing to refuse, and
        the key must be in no response body and no log record."""
        # openai >= 3 types http_client as an httpx2 client and accepts an httpx one too
        http: Any = httpx.AsyncClient(transport=_Tap(self.seen))
        async with running(self.settings, self.registry) as (url, _app):
            client = openai.AsyncOpenAI(
                base_url=f"{url}/v1", api_key=self.caller_key, max_retries=0, http_client=http
            )
            try:
                yield client
            finally:
                await client.close()
        # (this module's asserts are not rewritten by pytest: they say what failed themselves)
        assert not self.fake.problems, f"the fake Anthropic API refused: {self.fake.problems}"
        assert self.seen, "no response body was captured"
        assert KEY.encode() not in self.seen, "the upstream key reached the client"
        records = [*self.caplog.get_records("setup"), *self.caplog.get_records("call")]
        assert records, "no log record was captured"
        leaked = [r.name for r in records if KEY in r.getMessage() or KEY in (r.exc_text or "")]
        assert not leaked, f"the upstream key was logged by {leaked}"
        assert KEY not in self.caplog.text, "the upstream key was logged"

    async def usage(self) -> list[Any]:
        """The usage rows; read them after :meth:`client` has exited."""
        async with self.registry.db.engine.connect() as conn:
            return list(await conn.execute(select(UsageEvent.__table__)))


def sdk_error_body(failure: openai.APIStatusError) -> dict[str, Any]:
    """The ``error`` object of an OpenAI-shaped error reply, as the SDK parsed it."""
    assert isinstance(failure.body, dict)
    return cast(dict[str, Any], failure.body)
