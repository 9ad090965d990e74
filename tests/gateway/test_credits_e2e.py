"""Credits are money, whatever the plan, and a small balance serves small calls: through the
real ``/v1`` handler in front of a fake OpenAI upstream, on SQLite and PostgreSQL.

Prices are the rig's USD price (2 and 8 USD per million prompt and completion tokens) at the
default ``billing.credits_per_usd`` of 100, unless a test adds a model with its own
``credits_per_1k``."""

from __future__ import annotations

import asyncio
import re
import uuid
from decimal import ROUND_CEILING, Decimal
from typing import Any

import orjson
from sqlalchemy import func, select

from modelyard.billing.credits import Adjustment, GrantCreate
from modelyard.billing.plans import PlanCreate
from modelyard.billing.subscriptions import SubscriptionCreate
from modelyard.db.tables import CreditEntry, CreditHold, User
from modelyard.db.types import canonical
from modelyard.gateway import request as calls
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.upstream import fixture, json_reply, sse_reply
from tests.gateway.v1_rig import CHAT, MODEL, PROVIDER, Exchange, Rig, openai_rig

ASK = [{"role": "user", "content": "What is the answer?"}]
PROMPT = calls.prompt_estimate({"messages": ASK}, "chat")
PER_PROMPT = Decimal(2) * 100 / 1_000_000  # credits per prompt token at the rig's price
PER_COMPLETION = Decimal(8) * 100 / 1_000_000


def _reply(prompt: int = 10, completion: int = 5) -> Any:
    return json_reply(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "42"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
    )


def _credits(value: Decimal) -> Decimal:
    return canonical(value.quantize(Decimal("0.000001"), rounding=ROUND_CEILING))


USED = _credits(10 * PER_PROMPT + 5 * PER_COMPLETION)  # what _reply() costs: 0.006


def _status(exchange: Exchange) -> int:
    return int(exchange.start["status"])


def _header(exchange: Exchange, name: str) -> str | None:
    for key, value in exchange.start["headers"]:
        if key == name.encode():
            return str(value.decode())
    return None


def _error(exchange: Exchange) -> dict[str, Any]:
    error: dict[str, Any] = orjson.loads(exchange.content)["error"]
    return error


async def _user(rig: Rig) -> uuid.UUID:
    async with rig.registry.db.engine.connect() as conn:
        found = await conn.scalar(select(User.id).where(User.email == "app@example.com"))
    assert found is not None
    return found


async def _refresh(rig: Rig) -> None:
    await rig.app.state.gateway.holder.refresh()


async def _ledger(rig: Rig, user_id: uuid.UUID) -> Decimal:
    await rig.app.state.gateway.recorder.flush()
    async with rig.registry.db.engine.connect() as conn:
        total = await conn.scalar(
            select(func.sum(CreditEntry.amount)).where(CreditEntry.user_id == user_id)
        )
    return Decimal(total or 0)


async def _held(rig: Rig) -> Decimal:
    async with rig.registry.db.engine.connect() as conn:
        total = await conn.scalar(select(func.sum(CreditHold.amount)))
    return Decimal(total or 0)


async def _model(rig: Rig, admin: Actor, model_id: str, **fields: Any) -> None:
    [provider] = [
        p
        for p in (await rig.registry.providers.list(admin, PageRequest())).items
        if p.name == PROVIDER
    ]
    await rig.registry.models.create(
        admin, {"provider_id": provider.id, "model_id": model_id, **fields}
    )


async def _grant(rig: Rig, admin: Actor, user_id: uuid.UUID, amount: str) -> None:
    await rig.registry.credits.grant(admin, GrantCreate(user_id=user_id, amount=Decimal(amount)))
    await _refresh(rig)


def _chat(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": ASK, **fields}


async def test_credits_granted_without_a_subscription_are_spent_at_the_usd_price(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    async with openai_rig(settings, registry, admin, tmp_path) as rig:
        rig.reply(CHAT, _reply())
        user_id = await _user(rig)
        await _grant(rig, admin, user_id, "10")
        assert _status(await rig.call(CHAT[1], _chat())) == 200
        # A price without credits_per_1k: its USD cost at billing.credits_per_usd (100).
        assert await _ledger(rig, user_id) == Decimal(10) - USED
        await registry.settings.set(admin, "billing.credits_per_usd", "1000")
        await _refresh(rig)
        assert _status(await rig.call(CHAT[1], _chat())) == 200
        assert await _ledger(rig, user_id) == Decimal(10) - USED - USED * 10
        rows = sorted(await rig.usage(), key=lambda r: r.occurred_at)
    assert [r.charged_credits for r in rows] == [USED, USED * 10]
    assert [r.credits for r in rows] == [USED, USED * 10]


async def test_a_zero_price_is_free_and_any_other_price_is_paid(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    async with openai_rig(settings, registry, admin, tmp_path) as rig:
        rig.reply(CHAT, _reply())
        user_id = await _user(rig)
        await registry.plans.create(admin, PlanCreate(name="metered", monthly_credits=Decimal(0)))
        await registry.subscriptions.create(
            admin, SubscriptionCreate(user_id=user_id, plan="metered")
        )
        zero = {"input_per_mtok": "0", "output_per_mtok": "0"}
        await _model(rig, admin, "free-usd", price=zero)
        await _model(rig, admin, "free-credits", price={**zero, "credits_per_1k": "0"})
        await _refresh(rig)
        for model in ("free-usd", "free-credits"):
            assert _status(await rig.call(CHAT[1], _chat(model=model))) == 200
        priced = await rig.call(CHAT[1], _chat())
        assert _status(priced) == 402  # billed, nothing left: the USD price is not free
        assert _error(priced)["code"] == "insufficient_credits"
        rows = await rig.usage()
    assert sorted(str(r.charged_credits) for r in rows if r.status == "ok") == ["0", "0"]
    assert len(rig.upstream.received) == 2


async def test_an_unpriced_model_is_refused_or_served_and_flagged_as_the_setting_says(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    async with openai_rig(settings, registry, admin, tmp_path) as rig:
        rig.reply(CHAT, _reply())
        user_id = await _user(rig)
        await _model(rig, admin, "unpriced")
        await _grant(rig, admin, user_id, "10")
        refused = await rig.call(CHAT[1], _chat(model="unpriced"))
        assert (_status(refused), _error(refused)["code"]) == (403, "model_unpriced")
        assert "has no price" in _error(refused)["message"]
        assert rig.upstream.received == []
        await registry.settings.set(admin, "billing.unpriced_models", "flag")
        await _refresh(rig)
        assert _status(await rig.call(CHAT[1], _chat(model="unpriced"))) == 200
        rows = [r for r in await rig.usage() if r.status == "ok"]
        metrics = rig.app.state.gateway.metrics.render()
        assert await _ledger(rig, user_id) == Decimal(10)
    assert [(r.model_name, r.charged_credits, r.metadata) for r in rows] == [
        ("unpriced", Decimal(0), {"unpriced": True})
    ]
    assert f'modelyard_unpriced_calls_total{{model="unpriced",provider="{PROVIDER}"}} 1' in metrics


async def test_users_who_hold_no_credits_are_served_or_refused_as_the_setting_says(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    async with openai_rig(settings, registry, admin, tmp_path) as rig:
        rig.reply(CHAT, _reply())
        user_id = await _user(rig)
        assert _status(await rig.call(CHAT[1], _chat())) == 200  # default: served unbilled
        await registry.settings.set(admin, "billing.uncredited_users", "refuse")
        await _refresh(rig)
        refused = await rig.call(CHAT[1], _chat())
        assert (_status(refused), _error(refused)["code"]) == (402, "no_credits")
        assert "grant them credits" in _error(refused)["message"]
        await _grant(rig, admin, user_id, "1")
        assert _status(await rig.call(CHAT[1], _chat())) == 200  # now they pay
        await registry.settings.set(admin, "billing.require_subscription", True)
        await _refresh(rig)
        required = await rig.call(CHAT[1], _chat())
        assert (_status(required), _error(required)["code"]) == (403, "no_subscription")
        rows = sorted(await rig.usage(), key=lambda r: r.occurred_at)
        assert await _ledger(rig, user_id) == Decimal(1) - USED
    assert [r.charged_credits for r in rows if r.status == "ok"] == [None, USED]


async def test_fifty_concurrent_small_calls_on_the_free_plan_meet_only_its_request_rate(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    async with openai_rig(settings, registry, admin, tmp_path) as rig:
        rig.reply(CHAT, _reply())
        user_id = await _user(rig)
        await registry.subscriptions.create(admin, SubscriptionCreate(user_id=user_id, plan="free"))
        await _refresh(rig)
        calls_ = await asyncio.gather(*(rig.call(CHAT[1], _chat()) for _ in range(50)))
        statuses = [_status(c) for c in calls_]
        refusals = [_error(c)["message"] for c in calls_ if _status(c) != 200]
        # The free plan: rpm 20, tpm 40,000, 2 in parallel (the others queue), 100 credits.
        assert statuses.count(200) == 20  # was 9: each call charged tpm as if it wrote 4096
        assert statuses.count(429) == 30
        assert all("20 requests per minute" in m for m in refusals), refusals[:3]
        assert await _ledger(rig, user_id) == Decimal(100) - USED * 20


async def test_a_small_call_holds_a_small_share_of_the_balance(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    async with openai_rig(settings, registry, admin, tmp_path) as rig:
        rig.reply(CHAT, _reply())
        user_id = await _user(rig)
        await _model(rig, admin, "metered", price={**_USD, "credits_per_1k": "0.5"})
        await registry.subscriptions.create(admin, SubscriptionCreate(user_id=user_id, plan="free"))
        await _refresh(rig)
        assert _status(await rig.call(CHAT[1], _chat(model="metered"))) == 200
        held = await _held(rig)
    worst = _credits((PROMPT + 4096) * Decimal("0.0005"))  # no max_tokens, no max output
    assert worst < held <= worst + (Decimal(100) - worst) / 10  # was 35 of 100 (16 calls)


async def test_a_call_the_balance_cannot_cover_is_sent_with_max_tokens_capped(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    async with openai_rig(settings, registry, admin, tmp_path) as rig:
        rig.reply(CHAT, _reply())
        user_id = await _user(rig)
        await _model(
            rig, admin, "big", max_output_tokens=16384, price={**_USD, "credits_per_1k": "0.5"}
        )
        await _grant(rig, admin, user_id, "3")
        # The caller's max_tokens: 10000 tokens may cost 8, 3 pay for fewer.
        first = await rig.call(CHAT[1], _chat(max_tokens=10000))
        cap = int((3 - PROMPT * PER_PROMPT) / PER_COMPLETION)
        assert (_status(first), _header(first, "x-modelyard-max-tokens-capped")) == (200, str(cap))
        assert rig.upstream.received[-1].body["max_tokens"] == cap
        # max_completion_tokens is capped in that field.
        left = 3 - USED
        second = await rig.call(CHAT[1], _chat(max_completion_tokens=10000))
        cap = int((left - PROMPT * PER_PROMPT) / PER_COMPLETION)
        assert _header(second, "x-modelyard-max-tokens-capped") == str(cap)
        sent = rig.upstream.received[-1].body
        assert (sent["max_completion_tokens"], "max_tokens" in sent) == (cap, False)
        # No max_tokens on a model that may write 16384 (8.2 credits): the 402.
        rig.reply(CHAT, _reply(10, 10))  # 20 tokens at 0.5 per 1k: 0.01 credits
        third = await rig.call(CHAT[1], _chat(model="big"))
        left -= USED
        cap = int((left - PROMPT * Decimal("0.0005")) / Decimal("0.0005"))
        assert (_status(third), _header(third, "x-modelyard-max-tokens-capped")) == (200, str(cap))
        assert rig.upstream.received[-1].body["max_tokens"] == cap
        assert await _ledger(rig, user_id) == left - Decimal("0.01")  # 3 credits served 0.01
        # A stream is capped the same way, and says so in its headers.
        rig.reply(CHAT, sse_reply(fixture("openai/chat_stream.sse")))
        streamed = await rig.call(CHAT[1], _chat(max_tokens=100_000, stream=True))
        assert _status(streamed) == 200
        capped = int(_header(streamed, "x-modelyard-max-tokens-capped") or 0)
        assert 0 < capped == rig.upstream.received[-1].body["max_tokens"] < 100_000
        left = await _ledger(rig, user_id)
        rig.reply(CHAT, _reply(10, 10))
        # A call the balance covers is not capped.
        small = await rig.call(CHAT[1], _chat(max_tokens=20))
        assert (_status(small), _header(small, "x-modelyard-max-tokens-capped")) == (200, None)
        small_cost = _credits(10 * PER_PROMPT + 10 * PER_COMPLETION)
        assert await _ledger(rig, user_id) == left - small_cost


async def test_a_capped_call_that_uses_more_is_charged_no_more_than_the_balance(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    async with openai_rig(settings, registry, admin, tmp_path) as rig:
        rig.reply(CHAT, _reply(10, 9000))  # an upstream that ignores max_tokens: 7.2 credits
        user_id = await _user(rig)
        await _grant(rig, admin, user_id, "3")
        capped = await rig.call(CHAT[1], _chat(max_tokens=10000))
        assert _status(capped) == 200
        assert _header(capped, "x-modelyard-max-tokens-capped") is not None
        assert await _ledger(rig, user_id) == 0  # never below
        rows = await rig.usage()
        after = await rig.call(CHAT[1], _chat(max_tokens=10))
        assert _error(after)["code"] == "insufficient_credits"
    [row] = rows
    assert row.charged_credits == 3
    used = _credits(10 * PER_PROMPT + 9000 * PER_COMPLETION)
    assert Decimal(row.metadata["credits_capped_from"]) == used


async def test_402_only_when_not_even_a_minimal_answer_is_affordable_naming_the_plan(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    async with openai_rig(settings, registry, admin, tmp_path) as rig:
        rig.reply(CHAT, _reply())
        user_id = await _user(rig)
        await registry.subscriptions.create(admin, SubscriptionCreate(user_id=user_id, plan="free"))
        await registry.credits.adjust(
            admin, Adjustment(user_id=user_id, amount=Decimal("-99.99"), reason="used")
        )
        await _refresh(rig)
        refused = await rig.call(CHAT[1], _chat(max_tokens=10000))
        error = _error(refused)
        assert (_status(refused), error["code"]) == (402, "insufficient_credits")
        least = _credits(PROMPT * PER_PROMPT + 16 * PER_COMPLETION)  # a 16-token answer
        assert "insufficient credits on the 'free' plan: 0.01 available" in error["message"]
        assert f"needs at least {least}" in error["message"]
        assert "top up" in error["message"]
        assert not re.search(r"plan:[0-9a-f]{8}-", error["message"])
        assert rig.upstream.received == []
        # A smaller minimal answer is affordable: served, capped.
        await registry.settings.set(admin, "billing.min_completion_tokens", 4)
        await _refresh(rig)
        served = await rig.call(CHAT[1], _chat(max_tokens=10000))
        cap = int((Decimal("0.01") - PROMPT * PER_PROMPT) / PER_COMPLETION)
        assert (_status(served), _header(served, "x-modelyard-max-tokens-capped")) == (
            200,
            str(cap),
        )
        assert await _ledger(rig, user_id) >= 0


_USD = {"input_per_mtok": "2", "output_per_mtok": "8"}
