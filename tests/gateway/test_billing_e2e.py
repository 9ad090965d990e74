"""Credits, subscriptions and plans enforced by the gateway, through real HTTP with the
official ``openai`` SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import openai
import pytest
from sqlalchemy import func, select

from modelyard.billing.credits import Adjustment, GrantCreate
from modelyard.billing.plans import PlanCreate
from modelyard.billing.subscriptions import SubscriptionCreate, SubscriptionUpdate
from modelyard.db.tables import CreditEntry, CreditHold, UsageEvent
from modelyard.gateway import request as calls
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running

ASK = [{"role": "user", "content": "What is the answer?"}]
MAX_TOKENS = 20
RATE = Decimal("2")  # credits per 1k tokens
PROMPT = calls.prompt_estimate({"messages": ASK}, "chat")
PER_CALL = RATE * (PROMPT + MAX_TOKENS) / 1000  # what a call reserves, and here also uses


async def _billed_user(
    registry: Registry, admin: Actor, *, plan: str = "metered", latency_ms: int = 0
) -> tuple[uuid.UUID, str]:
    provider = await registry.providers.create(
        admin,
        {
            "name": "fake",
            "kind": "fake",
            "config": {
                "reply": "42",
                "prompt_tokens": PROMPT,  # usage equal to the reservation: no slack
                "completion_tokens": MAX_TOKENS,
                "latency_ms": latency_ms,
            },
        },
    )
    await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": "m",
            "price": {"input_per_mtok": "1", "output_per_mtok": "2", "credits_per_1k": str(RATE)},
        },
    )
    if plan == "metered":
        await registry.plans.create(admin, PlanCreate(name="metered", monthly_credits=Decimal(0)))
    user = await registry.users.create(admin, UserCreate(email="payer@example.com"))
    await registry.subscriptions.create(admin, SubscriptionCreate(user_id=user.id, plan=plan))
    key = await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))
    return user.id, key.key


async def _ledger(registry: Registry, user_id: uuid.UUID) -> tuple[Decimal, Decimal, int]:
    """The ledger's sum, the usage rows' charged credits, and the holds left."""
    async with registry.db.engine.connect() as conn:
        entries = (
            await conn.execute(select(CreditEntry.amount).where(CreditEntry.user_id == user_id))
        ).all()
        charged = (
            await conn.execute(
                select(UsageEvent.charged_credits).where(UsageEvent.user_id == user_id)
            )
        ).all()
        holds = await conn.scalar(select(func.count()).select_from(CreditHold))
    total = sum((e[0] for e in entries), Decimal(0))
    return total, sum((c[0] or Decimal(0) for c in charged), Decimal(0)), int(holds or 0)


async def test_credits_for_ten_calls_let_at_most_ten_of_a_hundred_concurrent_calls_through(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    user_id, key = await _billed_user(registry, admin, latency_ms=50)
    grant = PER_CALL * 10
    await registry.credits.grant(admin, GrantCreate(user_id=user_id, amount=grant))
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    async with running(local, registry) as (url, app):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)

        async def one() -> str:
            try:
                await client.chat.completions.create(model="m", messages=ASK, max_tokens=MAX_TOKENS)
            except openai.APIStatusError as exc:
                return f"{exc.status_code} {exc.code}"
            return "ok"

        outcomes = await asyncio.gather(*(one() for _ in range(100)))
        await client.close()
        syncs = app.state.gateway.credits.syncs
    assert outcomes.count("ok") == 10
    assert outcomes.count("402 insufficient_credits") == 90
    assert syncs < 100  # most calls were decided in memory, not by a database round trip
    total, charged, holds = await _ledger(registry, user_id)
    assert charged == PER_CALL * 10
    assert total == grant - charged == 0  # the ledger sums exactly, never below zero
    assert holds == 0  # the stopped gateway gave its hold back
    balance = await registry.credits.balance(admin, user_id)
    assert balance.balance == total


async def test_a_call_that_cannot_be_covered_gets_402_naming_balance_and_estimate(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="modelyard.gateway")
    user_id, key = await _billed_user(registry, admin)
    await registry.credits.grant(admin, GrantCreate(user_id=user_id, amount=PER_CALL / 2))
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    async with running(local, registry) as (url, _app):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            await client.chat.completions.create(model="m", messages=ASK, max_tokens=MAX_TOKENS)
        await client.close()
    assert info.value.status_code == 402
    request_id = info.value.response.headers["x-request-id"]
    assert f"POST /v1/chat/completions -> 402 INSUFFICIENT_CREDITS (request {request_id})" in (
        caplog.text
    )
    message = info.value.message
    assert f"{PER_CALL / 2} available" in message
    assert f"up to {PER_CALL}" in message
    total, charged, _ = await _ledger(registry, user_id)
    assert (total, charged) == (PER_CALL / 2, 0)


async def test_suspended_and_expired_subscriptions_stop_calls_with_403(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    user_id, key = await _billed_user(registry, admin)
    await registry.credits.grant(admin, GrantCreate(user_id=user_id, amount=PER_CALL * 5))
    subs = await registry.subscriptions.list(admin, _page(), user_id=user_id)
    sub_id = subs.items[0].id
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    async with running(local, registry) as (url, app):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        await client.chat.completions.create(model="m", messages=ASK, max_tokens=MAX_TOKENS)
        await registry.subscriptions.update(admin, sub_id, SubscriptionUpdate(status="suspended"))
        await app.state.gateway.holder.refresh()
        with pytest.raises(openai.PermissionDeniedError) as suspended:
            await client.chat.completions.create(model="m", messages=ASK, max_tokens=MAX_TOKENS)
        assert suspended.value.code == "subscription_suspended"
        assert "metered" in suspended.value.message
        # The period ends while suspended: the renewal job expires it.
        registry.db.clock = lambda: subs.items[0].current_period_end + timedelta(seconds=1)
        await app.state.gateway.billing.run_once()
        await app.state.gateway.holder.refresh()
        with pytest.raises(openai.PermissionDeniedError) as expired:
            await client.chat.completions.create(model="m", messages=ASK, max_tokens=MAX_TOKENS)
        assert expired.value.code == "subscription_expired"
        await client.close()


async def test_plan_models_and_rate_limits_apply_to_its_users(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    await registry.plans.create(
        admin,
        PlanCreate(name="narrow", monthly_credits=Decimal(100), rpm_limit=2, allowed_models=["m"]),
    )
    user_id, key = await _billed_user(registry, admin, plan="narrow")
    provider = (await registry.providers.list(admin, _page())).items[0]
    await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": "other",
            "price": {"input_per_mtok": "1", "output_per_mtok": "1", "credits_per_1k": "1"},
        },
    )
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    async with running(local, registry) as (url, _app):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        assert [m.id async for m in client.models.list()] == ["m"]  # not "other"
        with pytest.raises(openai.PermissionDeniedError) as outside:
            await client.chat.completions.create(model="other", messages=ASK)
        assert outside.value.code == "model_not_in_plan"
        raw = await client.chat.completions.with_raw_response.create(
            model="m", messages=ASK, max_tokens=MAX_TOKENS
        )
        assert raw.headers["x-ratelimit-limit-requests"] == "2"
        await client.chat.completions.create(model="m", messages=ASK, max_tokens=MAX_TOKENS)
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model="m", messages=ASK, max_tokens=MAX_TOKENS)
        await client.close()
    total, charged, _ = await _ledger(registry, user_id)
    assert charged == PER_CALL * 2
    assert total == Decimal(100) - charged


async def test_users_without_a_subscription_are_not_billed_unless_required(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    await _billed_user(registry, admin)
    user = await registry.users.create(admin, UserCreate(email="free@example.com"))
    free_key = (await registry.keys.create(admin, ApiKeyCreate(name="f", user_id=user.id))).key
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    async with running(local, registry) as (url, app):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=free_key, max_retries=0)
        await client.chat.completions.create(model="m", messages=ASK)
        await registry.settings.set(admin, "billing.require_subscription", True)
        await app.state.gateway.holder.refresh()
        with pytest.raises(openai.PermissionDeniedError) as info:
            await client.chat.completions.create(model="m", messages=ASK)
        assert info.value.code == "no_subscription"
        await client.close()
    total, charged, _ = await _ledger(registry, user.id)
    assert (total, charged) == (0, 0)


async def test_the_server_renews_periods_by_itself(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    user_id, _ = await _billed_user(registry, admin, plan="pro")
    await registry.credits.adjust(
        admin, Adjustment(user_id=user_id, amount=Decimal(-9000), reason="used")
    )
    sub = (await registry.subscriptions.list(admin, _page(), user_id=user_id)).items[0]
    registry.db.clock = lambda: sub.current_period_end + timedelta(seconds=1)
    local = settings.model_copy(
        update={"usage_outbox": tmp_path / "outbox", "billing_interval_s": 0.05}
    )
    async with running(local, registry):
        for _ in range(400):
            renewed = await registry.subscriptions.get(admin, sub.id)
            if renewed.current_period_start == sub.current_period_end:
                break
            await asyncio.sleep(0.025)
    assert renewed.current_period_start == sub.current_period_end
    balance = await registry.credits.balance(admin, user_id)
    assert balance.balance == Decimal(10000) + Decimal(1000)  # pro: 1000 left, cap 5000


def _page() -> Any:
    from modelyard.registry.common import PageRequest

    return PageRequest()
