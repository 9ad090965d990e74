"""Rate limits per API key and per user, with OpenAI's x-ratelimit-* headers and 429s."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate, UserUpdate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running

MESSAGES = [{"role": "user", "content": "hi"}]


async def test_a_key_over_its_rpm_gets_429_with_retry_after_and_its_user_limit_spans_keys(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    provider = await registry.providers.create(admin, {"name": "fake", "kind": "fake"})
    await registry.models.create(admin, {"provider_id": provider.id, "model_id": "m"})
    user = await registry.users.create(admin, UserCreate(email="app@example.com"))
    limited = await registry.keys.create(
        admin, ApiKeyCreate(name="limited", user_id=user.id, rpm_limit=2)
    )
    other = await registry.keys.create(admin, ApiKeyCreate(name="other", user_id=user.id))
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    async with running(local, registry) as (url, app):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=limited.key, max_retries=0)
        first = await client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
        assert first.headers["x-ratelimit-limit-requests"] == "2"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        await client.chat.completions.create(model="m", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model="m", messages=MESSAGES)
        assert int(info.value.response.headers["retry-after"]) >= 1
        await client.close()

        unlimited = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=other.key, max_retries=0)
        await unlimited.chat.completions.create(model="m", messages=MESSAGES)  # own key: fine
        await registry.users.update(admin, user.id, UserUpdate(rpm_limit=2))
        await app.state.gateway.holder.refresh()  # what the change nudge does, awaited here
        await unlimited.chat.completions.create(model="m", messages=MESSAGES)
        await unlimited.chat.completions.create(model="m", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError):  # the user's limit applies to every key
            await unlimited.chat.completions.create(model="m", messages=MESSAGES)
        await unlimited.close()


async def test_tpm_is_charged_the_budget_then_settled_to_the_tokens_used(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    provider = await registry.providers.create(
        admin, {"name": "fake", "kind": "fake", "tpm_limit": 10_000}
    )
    await registry.models.create(admin, {"provider_id": provider.id, "model_id": "m"})
    user = await registry.users.create(admin, UserCreate(email="app@example.com"))
    key = await registry.keys.create(
        admin, ApiKeyCreate(name="limited", user_id=user.id, tpm_limit=1_000)
    )
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    async with running(local, registry) as (url, app):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key.key, max_retries=0)
        raw = await client.chat.completions.with_raw_response.create(
            model="m", messages=MESSAGES, max_tokens=900
        )
        used = raw.parse().usage
        assert used is not None
        charged = 1_000 - int(raw.headers["x-ratelimit-remaining-tokens"])
        assert charged >= 900  # at the start, the most the call could use
        await app.state.gateway.settled()
        # A budget of 900 more fits only because the first call was settled to what it used.
        second = await client.chat.completions.with_raw_response.create(
            model="m", messages=MESSAGES, max_tokens=900
        )
        remaining = int(second.headers["x-ratelimit-remaining-tokens"])
        assert remaining == 1_000 - used.total_tokens - charged
        await client.close()
