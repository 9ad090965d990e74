"""``/v1/responses`` end to end with the official ``openai`` SDK: a real modelyard server in
front of an OpenAI upstream (its own ``/responses``, passed through), an OpenAI-compatible one
and an Anthropic one (both through the chat translation), on SQLite and PostgreSQL; each call's
usage row and cost checked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import orjson
import pytest
from sqlalchemy.exc import OperationalError

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.responses_rig import (
    AFTER_TOOL,
    ANSWER,
    ARGUMENTS,
    BROKEN,
    CHARGE,
    COMPLETION,
    COST,
    CREDITS,
    MODELS,
    NATIVE,
    NATIVE_BROKEN,
    PROMPT,
    SHARED,
    SLOW,
    Rig,
    responses_rig,
)
from tests.gateway.v1_rig import Exchange

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PATHS = {
    "native-model": "/native/v1/responses",
    "compat-model": "/compat/v1/chat/completions",
    "claude-model": "/v1/messages",
}


@pytest.fixture
async def rig(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    async with responses_rig(settings, registry, admin, tmp_path) as running:
        yield running


def _client(rig: Rig, key: str | None = None) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{rig.url}/v1", api_key=key or rig.key, max_retries=0)


@pytest.mark.parametrize("model", MODELS)
async def test_create_answers_a_response_object_with_usage_and_one_exact_usage_row(
    rig: Rig, model: str
) -> None:
    client = _client(rig)
    response = await client.responses.create(
        model=model, input="Say hello.", instructions="Be brief.", metadata={"k": "v"}
    )
    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == ANSWER
    assert response.output[0].type == "message"
    assert response.metadata == {"k": "v"}
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (PROMPT, COMPLETION)
    assert response.usage.total_tokens == PROMPT + COMPLETION
    assert response.usage.input_tokens_details.cached_tokens == 0
    stored = await client.responses.retrieve(response.id)
    assert stored.output_text == ANSWER
    await client.close()
    [row] = await rig.usage()
    assert (row.status, row.operation, row.model_name) == ("ok", "chat", model)
    assert (row.prompt_tokens, row.completion_tokens, row.cost) == (PROMPT, COMPLETION, COST)
    assert row.charged_credits == CHARGE
    balance = await rig.registry.credits.balance(rig.admin, rig.user_id)
    assert balance.balance == CREDITS - CHARGE
    assert row.metadata["api"] == "responses"
    assert row.request_id.removeprefix("req_") == response.id.removeprefix("resp_")


async def test_an_openai_upstream_gets_the_responses_body_without_our_ids_and_store_false(
    rig: Rig,
) -> None:
    client = _client(rig)
    first = await client.responses.create(model=NATIVE, input="Remember: blue.")
    second = await client.responses.create(
        model=NATIVE, input="What colour?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    assert second.id != first.id
    await client.close()
    sent = rig.received("/native/v1/responses")[-1]
    assert sent["store"] is False
    assert "previous_response_id" not in sent
    assert sent["input"] == [
        {"type": "message", "role": "user", "content": "Remember: blue."},
        {"role": "assistant", "content": ANSWER},
        {"type": "message", "role": "user", "content": "What colour?"},
    ]
    assert "resp_" not in str(sent)


@pytest.mark.parametrize("model", MODELS)
async def test_previous_response_id_brings_the_earlier_turns(rig: Rig, model: str) -> None:
    client = _client(rig)
    first = await client.responses.create(model=model, input="My name is Ada.")
    second = await client.responses.create(
        model=model, input="What is my name?", previous_response_id=first.id
    )
    third = await client.responses.create(
        model=model, input="And again?", previous_response_id=second.id
    )
    assert third.output_text == ANSWER
    await client.close()
    sent = str(rig.received(PATHS[model])[-1])
    for earlier in ("My name is Ada.", "What is my name?", ANSWER, "And again?"):
        assert earlier in sent


@pytest.mark.parametrize("model", MODELS)
async def test_a_function_tool_round_trip(rig: Rig, model: str) -> None:
    client = _client(rig)
    asked = await client.responses.create(model=model, input="Weather in Paris?", tools=[WEATHER])
    [call] = [item for item in asked.output if item.type == "function_call"]
    assert (call.name, json.loads(call.arguments)) == ("get_weather", json.loads(ARGUMENTS))
    assert call.call_id
    answered = await client.responses.create(
        model=model,
        previous_response_id=asked.id,
        tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert answered.output_text == AFTER_TOOL
    # the SDK's own pattern: the output items sent back as input, without storage
    again = await client.responses.create(
        model=model,
        store=False,
        tools=[WEATHER],
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            *[item.model_dump(exclude_none=True) for item in asked.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
    )
    assert again.output_text == AFTER_TOOL
    await client.close()
    rows = await rig.usage()
    assert [row.operation for row in rows] == ["function_call"] * 3
    assert all(row.cost == COST for row in rows)


@pytest.mark.parametrize("model", MODELS)
async def test_streamed_with_the_sdk_helper(rig: Rig, model: str) -> None:
    client = _client(rig)
    deltas: list[str] = []
    async with client.responses.stream(model=model, input="Say hello.") as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = await stream.get_final_response()
    assert "".join(deltas) == ANSWER
    assert final.output_text == ANSWER
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (PROMPT, COMPLETION)
    stored = await client.responses.retrieve(final.id)
    assert stored.output_text == ANSWER
    await client.close()
    [row] = await rig.usage()
    assert (row.status, row.cost, row.metadata["api"]) == ("ok", COST, "responses")


@pytest.mark.parametrize("model", MODELS)
async def test_streamed_events_are_numbered_and_typed_and_tool_calls_stream(
    rig: Rig, model: str
) -> None:
    client = _client(rig)
    stream = await client.responses.create(
        model=model, input="Weather?", tools=[WEATHER], stream=True
    )
    events = [event async for event in stream]
    await client.close()
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_item.added" in kinds
    assert "response.function_call_arguments.delta" in kinds
    [done] = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert json.loads(done.arguments) == json.loads(ARGUMENTS)
    final = events[-1].response  # type: ignore[union-attr]
    assert [item.type for item in final.output] == ["function_call"]
    assert final.id == events[0].response.id  # type: ignore[union-attr]


@pytest.mark.parametrize("model", MODELS)
async def test_text_format_json_schema_reaches_the_upstream(rig: Rig, model: str) -> None:
    client = _client(rig)
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    text: Any = {"format": {"type": "json_schema", "name": "place", "schema": schema}}
    response = await client.responses.create(model=model, input="A city?", text=text)
    assert response.text.format.type == "json_schema"  # type: ignore[union-attr]
    await client.close()
    sent = rig.received(PATHS[model])[-1]
    if model == NATIVE:
        assert sent["text"] == text
    elif model == "compat-model":
        assert sent["response_format"]["json_schema"]["schema"] == schema
    else:  # anthropic: the adapter's own way, the schema in the request
        assert "city" in str(sent)


async def test_store_false_then_get_is_404_and_delete_removes(rig: Rig) -> None:
    client = _client(rig)
    unstored = await client.responses.create(model="compat-model", input="x", store=False)
    assert unstored.store is False
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(unstored.id)
    with pytest.raises(openai.NotFoundError) as refused:
        await client.responses.create(
            model="compat-model", input="y", previous_response_id=unstored.id
        )
    assert unstored.id in str(refused.value)
    stored = await client.responses.create(model="compat-model", input="x")
    async with httpx.AsyncClient() as http:
        deleted = await http.delete(
            f"{rig.url}/v1/responses/{stored.id}", headers={"Authorization": f"Bearer {rig.key}"}
        )
        assert deleted.status_code == 200
        assert deleted.json() == {"id": stored.id, "object": "response", "deleted": True}
        items = await http.get(
            f"{rig.url}/v1/responses/{stored.id}/input_items",
            headers={"Authorization": f"Bearer {rig.key}"},
        )
        assert items.status_code == 404
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(stored.id)
    await client.close()


async def test_another_users_response_is_404_everywhere(rig: Rig) -> None:
    mine = _client(rig)
    theirs = _client(rig, rig.other_key)
    response = await mine.responses.create(model="claude-model", input="secret")
    with pytest.raises(openai.NotFoundError):
        await theirs.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError) as refused:
        await theirs.responses.create(
            model="claude-model", input="y", previous_response_id=response.id
        )
    assert refused.value.body["param"] == "previous_response_id"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        await theirs.responses.delete(response.id)
    assert (await mine.responses.retrieve(response.id)).id == response.id
    await mine.close()
    await theirs.close()


async def test_input_items_lists_what_was_sent(rig: Rig) -> None:
    client = _client(rig)
    response = await client.responses.create(
        model="compat-model", input=[{"role": "user", "content": "one"}]
    )
    page = await client.responses.input_items.list(response.id)
    assert [item.content for item in page.data] == ["one"]  # type: ignore[union-attr]
    await client.close()


@pytest.mark.parametrize("stream", [False, True])
async def test_a_failing_openai_upstream_falls_back_to_a_translated_one(
    rig: Rig, stream: bool
) -> None:
    client = _client(rig)
    if stream:
        async with client.responses.stream(model=SHARED, input="hi") as events:
            response = await events.get_final_response()
    else:
        response = await client.responses.create(model=SHARED, input="hi")
    assert response.output_text == ANSWER
    await client.close()
    assert len(rig.received("/down/v1/responses")) == 2  # retried, then the next provider
    [row] = await rig.usage()
    assert (row.status, row.provider_name, row.attempts, row.cost) == ("ok", "up-compat", 3, COST)


@pytest.mark.parametrize("model", [BROKEN, NATIVE_BROKEN])
async def test_a_stream_that_fails_midway_ends_with_response_failed(rig: Rig, model: str) -> None:
    client = _client(rig)
    stream = await client.responses.create(model=model, input="hi", stream=True)
    events = [event async for event in stream]
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created"
    assert "response.output_text.delta" in kinds
    assert kinds[-1] == "response.failed"
    failed = events[-1].response  # type: ignore[union-attr]
    assert failed.status == "failed"
    assert failed.error is not None
    assert "overloaded" in failed.error.message
    assert failed.id == events[0].response.id  # type: ignore[union-attr]
    [row] = await rig.usage()
    assert row.status == "error"
    with pytest.raises(openai.NotFoundError):  # a failed response is not stored
        await client.responses.retrieve(failed.id)
    await client.close()


@pytest.mark.parametrize("stream", [False, True])
async def test_a_database_failure_while_storing_still_answers(
    rig: Rig, stream: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def refuse(*_: Any, **__: Any) -> None:
        raise OperationalError("INSERT", {}, OSError("database is gone"))

    monkeypatch.setattr(rig.app.state.gateway.responses, "save", refuse)
    client = _client(rig)
    if stream:
        async with client.responses.stream(model="compat-model", input="hi") as events:
            response = await events.get_final_response()
    else:
        response = await client.responses.create(model="compat-model", input="hi")
    assert response.output_text == ANSWER
    await client.close()
    assert any(f"response {response.id} not stored" in r.getMessage() for r in caplog.records)
    [row] = await rig.usage()
    assert (row.status, row.cost) == ("ok", COST)


async def test_a_client_gone_mid_stream_cancels_the_upstream_and_settles_aborted(rig: Rig) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/responses",
        "raw_path": b"/v1/responses",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {rig.key}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    body = {"model": SLOW, "input": "Tell me a story.", "stream": True}
    exchange = Exchange(rig.app, scope, orjson.dumps(body))
    task = exchange.run()
    assert (await exchange.next())["type"] == "http.response.start"
    first = await exchange.next()
    assert b"response.created" in first["body"]
    while b"response.output_text.delta" not in exchange.content:
        await exchange.next()
    exchange.gone.set()  # the client disconnects while the upstream is still talking
    await asyncio.wait_for(task, 10)
    assert b"response.completed" not in exchange.content
    [row] = await rig.usage()
    assert (row.status, row.estimated) == ("aborted", True)
    assert row.completion_tokens > 0  # charged for what was produced
    async with httpx.AsyncClient() as http:
        response_id = orjson.loads(first["body"].split(b"data: ", 1)[1].split(b"\n")[0])
        stored = await http.get(
            f"{rig.url}/v1/responses/{response_id['response']['id']}",
            headers={"Authorization": f"Bearer {rig.key}"},
        )
    assert stored.status_code == 404  # an unfinished response is not stored
