"""The /v1 SSE relay writes what came in one upstream read in one write to the client, and
``data: [DONE]`` with the end of the body; a slow stream is not held back (each read is
written as it arrives); an error event mid-read reaches the client after the content before
it, and the call is recorded as an error. Driven at the ASGI level, every write counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.paced import DONE, Paced, chunk, event, usage_chunk, whole
from tests.gateway.v1_rig import CHAT, MODEL, PROVIDER, Rig, openai_rig

PATH = "/v1/chat/completions"
ROLE = chunk("") | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
TEXT = [chunk("Hel"), chunk("lo"), chunk(" there")]
FINISH = chunk(finish="stop")
USAGE = usage_chunk(12, 3)
COST = Decimal("0.000048")  # 12 prompt tokens at 2, 3 completion tokens at 8 per Mtok


@pytest.fixture
async def rig(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    async with openai_rig(settings, registry, admin, tmp_path) as made:
        yield made


def ask(include_usage: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    return body


def events(raw: bytes) -> list[Any]:
    """The events of an SSE body: JSON documents, and ``[DONE]`` as the string."""
    assert raw.endswith(b"\n\n")
    out: list[Any] = []
    for block in raw[:-2].split(b"\n\n"):
        assert block.startswith(b"data: "), block
        assert b"\n" not in block, block  # one data line: valid framing for any SSE client
        data = block.removeprefix(b"data: ")
        out.append("[DONE]" if data == b"[DONE]" else orjson.loads(data))
    return out


def expected(include_usage: bool) -> list[Any]:
    return [ROLE, *TEXT, FINISH, *([USAGE] if include_usage else []), "[DONE]"]


def check_ok_row(rig: Rig, rows: list[Any]) -> None:
    [record] = rig.records  # settled once
    [row] = rows
    assert (row.status, row.error_code, row.provider_name, row.model_name) == (
        "ok",
        None,
        PROVIDER,
        MODEL,
    )
    assert (row.prompt_tokens, row.completion_tokens, row.estimated) == (12, 3, False)
    assert row.cost == COST
    assert record.request_id == row.request_id


@pytest.mark.parametrize("include_usage", [False, True], ids=["plain", "include-usage"])
async def test_a_stream_answered_in_one_read_reaches_the_client_in_two_writes(
    rig: Rig, include_usage: bool
) -> None:
    rig.reply(CHAT, whole(*map(event, [ROLE, *TEXT, FINISH, USAGE]), DONE))
    exchange = await rig.call(PATH, ask(include_usage))
    assert exchange.start["status"] == 200
    assert dict(exchange.start["headers"])[b"content-type"] == b"text/event-stream"
    first, last = exchange.bodies  # every content event in one write, then [DONE] and the end
    assert first["more_body"] is True
    assert events(first["body"]) == expected(include_usage)[:-1]
    assert (last["body"], last["more_body"]) == (DONE, False)
    assert events(exchange.content) == expected(include_usage)
    check_ok_row(rig, await rig.usage())


@pytest.mark.parametrize("include_usage", [False, True], ids=["plain", "include-usage"])
async def test_a_slow_stream_is_written_read_by_read_as_each_arrives(
    rig: Rig, include_usage: bool
) -> None:
    reads = [[ROLE], [TEXT[0]], TEXT[1:], [FINISH, USAGE]]
    paced = Paced(*(b"".join(map(event, read)) for read in reads), DONE)
    rig.reply(CHAT, paced.handler)
    exchange = rig.exchange(PATH, ask(include_usage))
    task = exchange.run()
    try:
        assert (await exchange.next())["type"] == "http.response.start"
        for n, read in enumerate(reads, 1):
            # the client has this read before the upstream may send the next one
            message = await exchange.next()
            assert paced.written == n
            relayed = [c for c in read if include_usage or c is not USAGE]
            assert (events(message["body"]), message["more_body"]) == (relayed, True)
            paced.go_on()
        message = await exchange.next()
        assert (message["body"], message["more_body"]) == (DONE, False)
        await task
    finally:
        paced.release()
    assert len(exchange.bodies) == len(reads) + 1
    assert events(exchange.content) == expected(include_usage)
    check_ok_row(rig, await rig.usage())


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ({"message": "overloaded", "type": "server_error", "code": 503}, "upstream_unavailable"),
        ({"message": "overloaded", "type": "server_error", "code": None}, "upstream_error"),
    ],
    ids=["with-status", "no-status"],
)
async def test_an_error_event_after_content_in_one_read_follows_that_content_and_ends_it(
    rig: Rig, error: dict[str, Any], code: str
) -> None:
    rig.reply(CHAT, whole(event(ROLE), event(TEXT[0]), event({"error": error}), event(TEXT[1])))
    exchange = await rig.call(PATH, ask(include_usage=True))
    assert exchange.start["status"] == 200  # the stream had begun: the error is an event
    content, failure = exchange.bodies
    assert (events(content["body"]), content["more_body"]) == ([ROLE, TEXT[0]], True)
    assert failure["more_body"] is False
    [sent] = events(failure["body"])
    assert sent["error"]["code"] == code
    assert sent["error"]["type"] == "api_error"
    assert sent["error"]["message"].startswith(f"{PROVIDER}: upstream ")
    assert sent["error"]["message"].endswith(": overloaded")
    assert b"[DONE]" not in exchange.content
    [record] = rig.records
    [row] = await rig.usage()
    assert (row.status, row.error_code) == ("error", code.upper())
    assert row.estimated is True  # no usage came: estimated from what was produced
    assert row.completion_tokens > 0
    assert record.status == "error"


# Chunks in forms modelyard would not write (spacing, key order, escapes): relayed as sent.
RAW_TEXT = [
    b'{ "choices" : [ { "delta" : { "content" : "caf\\u00e9" }, "index" : 0 } ], "id" : "c" }',
    b'{"id":"c","choices":[{"index":0,"delta":{"content":" \\/ ok"},"finish_reason":null}],'
    b' "usage" : null}',
]
RAW_USAGE = b'{"id":"c", "choices":[], "usage" : {"prompt_tokens":12, "completion_tokens":3}}'


@pytest.mark.parametrize("include_usage", [False, True], ids=["plain", "include-usage"])
async def test_stream_events_reach_the_client_as_the_upstream_sent_them(
    rig: Rig, include_usage: bool
) -> None:
    sent = [b"data: " + raw + b"\n\n" for raw in (*RAW_TEXT, RAW_USAGE)]
    rig.reply(CHAT, whole(*sent, DONE))
    exchange = await rig.call(PATH, ask(include_usage))
    first, last = exchange.bodies
    assert (last["body"], last["more_body"]) == (DONE, False)
    if include_usage:
        assert first["body"] == b"".join(sent)
    else:  # the usage left out: the usage chunk, and the key from the chunk that has it
        assert first["body"].startswith(sent[0])
        text = orjson.loads(RAW_TEXT[1])
        del text["usage"]
        assert events(first["body"]) == [orjson.loads(RAW_TEXT[0]), text]
    [row] = await rig.usage()
    assert (row.status, row.prompt_tokens, row.completion_tokens) == ("ok", 12, 3)


async def test_an_event_spread_over_data_lines_reaches_the_client_as_one_valid_event(
    rig: Rig,
) -> None:
    lines = b'data: {"id": "c",\ndata:  "choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n'
    rig.reply(CHAT, whole(lines, event(USAGE), DONE))
    exchange = await rig.call(PATH, ask(include_usage=True))
    document = {"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
    assert events(exchange.content) == [document, USAGE, "[DONE]"]


@pytest.mark.parametrize("options", ["yes", [], 1, True])
async def test_stream_options_that_are_not_an_object_are_refused_before_anything_starts(
    rig: Rig, options: object
) -> None:
    rig.reply(CHAT, whole(DONE))
    exchange = await rig.call(PATH, {**ask(True), "stream_options": options})
    assert exchange.start["status"] == 400
    error = orjson.loads(exchange.content)["error"]
    assert (error["code"], error["param"]) == ("invalid_type", "stream_options")
    assert not rig.upstream.received
    assert rig.records == []
