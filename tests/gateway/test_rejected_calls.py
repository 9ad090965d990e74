"""Calls refused before any upstream was asked (rpm/tpm limits, parallel slots, the plan) keep
the model they asked for in their usage row, with the reason code; limit messages name the
scope as the caller knows it (the plan's name, the API key's name and prefix, the provider's
name), never ``plan:<uuid>``, and say what to do. Through real HTTP, on SQLite and
PostgreSQL."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from modelyard.billing.credits import GrantCreate
from modelyard.billing.plans import PlanCreate, PlanUpdate
from modelyard.billing.subscriptions import SubscriptionCreate
from modelyard.db.tables import UsageEvent
from modelyard.errors import LimitExceeded, ProviderBusy
from modelyard.gateway import call as call_module
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate, UserUpdate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running

ASK = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")


@dataclass
class World:
    url: str
    key: str
    key_prefix: str
    user_id: uuid.UUID
    registry: Registry
    admin: Actor
    app: Any

    async def post(self, body: Any = None) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as http:
            return await http.post(
                f"{self.url}/v1/chat/completions",
                json=ASK if body is None else body,
                headers={"Authorization": f"Bearer {self.key}"},
            )

    async def refresh(self) -> None:
        await self.app.state.gateway.holder.refresh()

    async def last_row(self) -> Any:
        await self.app.state.gateway.recorder.flush()
        async with self.registry.db.engine.connect() as conn:
            query = select(UsageEvent.__table__).order_by(UsageEvent.occurred_at.desc())
            return (await conn.execute(query)).first()


@pytest.fixture
async def world(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[World]:
    provider = await registry.providers.create(admin, {"name": "fake", "kind": "fake"})
    for model in ("m", "other"):
        await registry.models.create(
            admin,
            {
                "provider_id": provider.id,
                "model_id": model,
                "price": {"input_per_mtok": "1", "output_per_mtok": "2"},
            },
        )
    await registry.plans.create(
        admin,
        PlanCreate(
            name="starter",
            monthly_credits=Decimal(0),
            rpm_limit=1,
            max_parallel=1,
            allowed_models=["m"],
        ),
    )
    user = await registry.users.create(admin, UserCreate(email="member@example.com"))
    await registry.subscriptions.create(admin, SubscriptionCreate(user_id=user.id, plan="starter"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=Decimal(100)))
    key = await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    async with running(local, registry) as (url, app):
        yield World(url, key.key, key.api_key.prefix, user.id, registry, admin, app)


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    message: str = error["message"]
    assert not UUID.search(message), message  # no limits key, no id
    assert "plan:" not in message
    return message


async def _assert_recorded(world: World, code: str, model: str = "m") -> None:
    row = await world.last_row()
    assert (row.status, row.error_code) == ("error", code)
    assert (row.model_name, row.provider_name) == (model, "fake")
    assert row.model_id is not None
    assert row.provider_id is not None
    assert (row.prompt_tokens, row.completion_tokens) == (0, 0)  # the upstream was not asked
    assert not row.cost


async def test_a_call_over_the_plans_rpm_names_the_plan_and_keeps_its_model(world: World) -> None:
    assert (await world.post()).status_code == 200
    refused = await world.post()
    message = _error(refused, 429, "limit_exceeded")
    assert "the rpm limit of the 'starter' plan" in message
    assert re.search(r"wait \d+ s before retrying", message)
    assert int(refused.headers["retry-after"]) >= 1
    await _assert_recorded(world, "LIMIT_EXCEEDED")


async def test_a_call_without_a_free_parallel_slot_names_the_plan(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(call_module, "PARALLEL_WAIT_S", 0.0)  # refuse at once, no waiting
    limiter = world.app.state.gateway.limiter
    held = await limiter.acquire_slot(f"plan-parallel:{world.user_id}", 1, 0)  # another call
    try:
        message = _error(await world.post(), 429, "provider_busy")
    finally:
        await held.release()
    assert "the 'starter' plan (per user) already runs its maximum of 1 parallel" in message
    assert "send fewer calls at once" in message
    await _assert_recorded(world, "PROVIDER_BUSY")


async def test_a_model_outside_the_plan_is_recorded_with_the_model_asked_for(
    world: World,
) -> None:
    message = _error(await world.post({**ASK, "model": "other"}), 403, "model_not_in_plan")
    assert "'starter'" in message
    await _assert_recorded(world, "MODEL_NOT_IN_PLAN", model="other")


async def test_the_api_keys_limit_names_the_key_by_name_and_prefix(world: World) -> None:
    key = await world.registry.keys.create(
        world.admin, ApiKeyCreate(name="ci-runner", user_id=world.user_id, rpm_limit=1)
    )
    await world.refresh()
    # its limit is checked before the plan's
    world.key, world.key_prefix = key.key, key.api_key.prefix
    assert (await world.post()).status_code == 200
    message = _error(await world.post(), 429, "limit_exceeded")
    assert f"the rpm limit of the API key 'ci-runner' ({world.key_prefix}...)" in message
    await _assert_recorded(world, "LIMIT_EXCEEDED")


async def test_a_request_larger_than_the_whole_tpm_says_lower_max_tokens(world: World) -> None:
    await world.registry.users.update(world.admin, world.user_id, UserUpdate(tpm_limit=50))
    await world.refresh()
    message = _error(await world.post({**ASK, "max_tokens": 500}), 429, "limit_exceeded")
    assert "more than the whole tpm limit of your account" in message
    assert "lower max_tokens" in message
    await _assert_recorded(world, "LIMIT_EXCEEDED")


async def test_a_providers_limit_names_the_provider(world: World) -> None:
    registry, admin = world.registry, world.admin
    await registry.plans.update(admin, "starter", PlanUpdate(rpm_limit=None))
    (provider,) = (await registry.providers.list(admin, _page())).items
    await registry.providers.update(admin, provider.id, {"rpm_limit": 1})
    await world.refresh()
    assert (await world.post()).status_code == 200
    message = _error(await world.post(), 429, "limit_exceeded")
    assert "the rpm limit of provider 'fake' (1 requests per minute)" in message
    await _assert_recorded(world, "LIMIT_EXCEEDED")


def test_limit_messages_before_the_scope_is_named_say_what_to_do() -> None:
    rpm = LimitExceeded("plan:x", "rpm", 20, 12.2, tokens=5).named("the 'free' plan")
    assert rpm.message == (
        "the rpm limit of the 'free' plan (20 requests per minute) is reached; "
        "wait 13 s before retrying"
    )
    assert rpm.details["name"] == "the 'free' plan"
    tpm = LimitExceeded("user:x", "tpm", 1000, 3.0, tokens=900).named("your account")
    assert "wait 3 s before retrying, or send a lower max_tokens" in tpm.message
    assert "about 900 tokens" in tpm.message
    busy = ProviderBusy("parallel:x", 4, 30.0).named("provider 'openai'")
    assert busy.message.startswith("provider 'openai' already runs its maximum of 4 parallel")
    assert str(busy) == busy.message


def _page() -> Any:
    from modelyard.registry.common import PageRequest

    return PageRequest()
