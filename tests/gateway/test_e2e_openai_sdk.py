"""The gateway end to end through real HTTP, with the official ``openai`` SDK as the client
and the deterministic ``fake`` provider kind upstream."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from modelyard.db.tables import UsageEvent
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running

FAST_RETRY = {"max_attempts": 3, "base_delay_ms": 1, "max_delay_ms": 5, "jitter": False}


async def _provider(registry: Registry, admin: Actor, name: str, model: str, **config: Any) -> str:
    provider = await registry.providers.create(
        admin, {"name": name, "kind": "fake", "config": {"reply": f"hello from {name}"} | config}
    )
    created = await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": model,
            "capabilities": ["text", "streaming", "embedding", "function_calling"],
            "price": {"input_per_mtok": "2", "output_per_mtok": "8"},
        },
    )
    return str(created.id)


async def _caller(registry: Registry, admin: Actor) -> str:
    user = await registry.users.create(admin, UserCreate(email="app@example.com"))
    return (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key


SCRAPE = "prometheus-scrape-token"


@pytest.fixture
async def gateway(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[tuple[str, str]]:
    await registry.settings.set(admin, "gateway.retry", FAST_RETRY)
    await _provider(registry, admin, "fake-a", "fake-model")
    key = await _caller(registry, admin)
    local = settings.model_copy(
        update={"usage_outbox": tmp_path / "usage.outbox", "metrics_token": SecretStr(SCRAPE)}
    )
    async with running(local, registry) as (url, _app):
        yield url, key


async def _usage_rows(registry: Registry) -> list[UsageEvent]:
    async with registry.db.engine.connect() as conn:
        return list((await conn.execute(select(UsageEvent))).all())  # type: ignore[arg-type]


async def test_chat_completion_through_the_sdk_with_headers(gateway: tuple[str, str]) -> None:
    url, key = gateway
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    raw = await client.chat.completions.with_raw_response.create(
        model="fake-model", messages=[{"role": "user", "content": "hi"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "hello from fake-a"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert raw.headers["x-modelyard-provider"] == "fake-a"
    assert raw.headers["x-request-id"].startswith("req_")
    assert float(raw.headers["x-modelyard-overhead-ms"]) >= 0
    await client.close()


async def test_streaming_sends_chunks_then_done_and_usage_only_when_asked(
    gateway: tuple[str, str],
) -> None:
    url, key = gateway
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    messages = [{"role": "user", "content": "hi"}]
    stream = await client.chat.completions.create(
        model="fake-model",
        messages=messages,
        stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "hello from fake-a"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    plain = await client.chat.completions.create(model="fake-model", messages=messages, stream=True)  # type: ignore[arg-type]
    plain_chunks = [chunk async for chunk in plain]
    assert plain_chunks
    assert all(chunk.usage is None for chunk in plain_chunks)
    await client.close()


async def test_embeddings_and_models(gateway: tuple[str, str]) -> None:
    url, key = gateway
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    embedded = await client.embeddings.create(model="fake-model", input=["a", "b"])
    assert len(embedded.data) == 2
    models = await client.models.list()
    (entry,) = [m for m in models.data if m.id == "fake-model"]
    assert entry.model_dump()["capabilities"] == sorted(
        ["text", "streaming", "embedding", "function_calling"]
    )
    assert (await client.models.retrieve("fake-model")).id == "fake-model"
    await client.close()


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"headers": {}}, 401, "unauthenticated"),
        ({"content": b"{not json"}, 400, "invalid_request"),
        (
            {"json": {"model": "nope", "messages": [{"role": "user", "content": "x"}]}},
            404,
            "model_not_found",
        ),
        ({"json": {"model": "fake-model"}}, 400, "missing_required_parameter"),
        (
            {"json": {"model": "fake-model", "messages": "x", "stream": "yes"}},
            400,
            "invalid_type",
        ),
        ({"content": b"x" * (17 * 1024 * 1024)}, 413, "payload_too_large"),
    ],
    ids=["no-auth", "bad-json", "unknown-model", "no-messages", "wrong-types", "too-large"],
)
async def test_bad_requests_get_openai_shaped_errors(
    gateway: tuple[str, str], request_kwargs: dict[str, Any], status: int, code: str
) -> None:
    url, key = gateway
    request_kwargs = dict(request_kwargs)  # parametrize shares the dict between engines
    headers = request_kwargs.pop("headers", {"Authorization": f"Bearer {key}"})
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{url}/v1/chat/completions", headers=headers, **request_kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["code"] == code
    assert response.headers["x-request-id"]


async def test_every_call_gets_its_own_usage_row_with_exact_cost_whatever_id_it_sends(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    await _provider(
        registry, admin, "fake-a", "fake-model", prompt_tokens=1000, completion_tokens=500
    )
    key = await _caller(registry, admin)
    local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
    async with running(local, registry) as (url, _app):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        for request_id in ("same", "same", "other"):
            await client.chat.completions.create(
                model="fake-model",
                messages=[{"role": "user", "content": "x"}],
                extra_headers={"x-request-id": request_id},
            )
        await client.close()
    rows = await _usage_rows(registry)
    assert sorted(r.client_request_id for r in rows) == ["other", "same", "same"]
    assert len({r.request_id for r in rows}) == 3  # the server's ids key the rows
    assert all(r.request_id.startswith("req_") for r in rows)
    for row in rows:
        assert (row.prompt_tokens, row.completion_tokens) == (1000, 500)
        assert row.cost == Decimal("0.006")  # 1000 * 2 / 1e6 + 500 * 8 / 1e6
        assert row.status == "ok"
        assert row.provider_name == "fake-a"


async def test_failing_provider_falls_back_and_rate_limits_are_retried(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    await registry.settings.set(admin, "gateway.retry", FAST_RETRY)
    await _provider(registry, admin, "broken", "shared", fail_with="unavailable", fail_times=1000)
    await _provider(registry, admin, "flaky", "flaky-model", fail_with="rate_limited", fail_times=2)
    backup = await registry.providers.create(
        admin, {"name": "backup", "kind": "fake", "config": {"reply": "from backup"}}
    )
    await registry.models.create(admin, {"provider_id": backup.id, "model_id": "shared"})
    key = await _caller(registry, admin)
    local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
    async with running(local, registry) as (url, _app):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        raw = await client.chat.completions.with_raw_response.create(
            model="shared", messages=[{"role": "user", "content": "x"}]
        )
        assert raw.parse().choices[0].message.content == "from backup"
        assert raw.headers["x-modelyard-provider"] == "backup"
        flaky = await client.chat.completions.with_raw_response.create(
            model="flaky-model", messages=[{"role": "user", "content": "x"}]
        )
        assert flaky.headers["x-modelyard-attempts"] == "3"
        await client.close()
    async with registry.db.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(UsageEvent)) == 2


async def test_metrics_and_readiness_report_the_gateway(gateway: tuple[str, str]) -> None:
    url, key = gateway
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    await client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "hi"}]
    )
    await client.close()
    async with httpx.AsyncClient() as http:
        scrape = {"Authorization": f"Bearer {SCRAPE}"}
        metrics = (await http.get(f"{url}/metrics", headers=scrape)).text
        ready = (await http.get(f"{url}/health/ready")).json()
    assert (
        'modelyard_requests_total{model="fake-model",operation="chat",provider="fake-a",'
        'status="ok"} 1'
    ) in metrics
    assert "modelyard_request_duration_seconds_bucket" in metrics
    pending = re.search(r"^modelyard_usage_pending_rows (\d+)$", metrics, re.MULTILINE)
    assert pending is not None
    assert int(pending[1]) in (0, 1)  # the call's usage row, written or about to be
    assert ready["checks"]["gateway"] == "ok"


async def test_a_model_added_through_the_registry_is_served_without_waiting(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    key = await _caller(registry, admin)
    local = settings.model_copy(
        update={"usage_outbox": tmp_path / "usage.outbox", "refresh_interval_s": 60.0}
    )
    async with running(local, registry) as (url, _app):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(
                model="new-model", messages=[{"role": "user", "content": "x"}]
            )
        await _provider(registry, admin, "late", "new-model")
        for _ in range(50):  # the change nudges the snapshot; no 60 s poll is waited for
            models = await client.models.list()
            if any(m.id == "new-model" for m in models.data):
                break
            await asyncio.sleep(0.01)
        reply = await client.chat.completions.create(
            model="new-model", messages=[{"role": "user", "content": "x"}]
        )
        assert reply.choices[0].message.content == "hello from late"
        await client.close()
