"""The Settler: finished calls queue their tpm corrections for one long-lived worker (no
worker task per call) and hand it their parallel slots; ``drain`` returns once all of it is
applied; a failing limiter call or slot release is logged and settling goes on; ``close``
drains, stops the worker and may be called twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from modelyard.errors import ProviderBusy
from modelyard.gateway.limits.base import Charge, Limiter, Slot
from modelyard.gateway.limits.memory import MemoryLimiter
from modelyard.gateway.limits.redis import RedisLimiter
from modelyard.gateway.limits.settle import Settler

WORKER = "modelyard-limits-settler"


def workers() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == WORKER and not t.done()]


class Gated(MemoryLimiter):
    """A memory limiter whose ``add_tokens`` waits for ``gate`` (a slow Redis round trip)
    and fails for keys in ``broken``."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.broken: set[str] = set()
        self.applied: list[tuple[str, int]] = []

    async def add_tokens(self, key: str, tokens: int, since: float | None = None) -> None:
        await self.gate.wait()
        if key in self.broken:
            raise ConnectionError(f"limiter down for {key}")
        await super().add_tokens(key, tokens, since)
        self.applied.append((key, tokens))


async def charged(limiter: MemoryLimiter, key: str, tokens: int, provider: object = None) -> Charge:
    """Charge ``tokens`` to ``key``'s tpm window, as a call's hit does."""
    window = await limiter.hit(key, rpm=None, tpm=100_000, tokens=tokens)
    return Charge(key, tokens, window.start, provider)


async def drained(settler: Settler) -> None:
    """``drain``, with a guard so that a dead worker fails the test instead of hanging it."""
    await asyncio.wait_for(settler.drain(), 10)


class BrokenSlot(Slot):
    """A slot whose release fails (Redis gone mid-release)."""

    async def _release(self) -> None:
        raise ConnectionError("slot store down")


def tokens(limiter: MemoryLimiter, key: str) -> int:
    return limiter._windows[key].tokens


@pytest.fixture
async def limiter() -> AsyncIterator[Gated]:
    gated = Gated()
    yield gated
    gated.gate.set()


async def test_many_calls_share_one_worker_that_outlives_them(limiter: Gated) -> None:
    settler = Settler(limiter)
    assert workers() == []
    for n in range(200):
        charge = await charged(limiter, f"key:{n % 4}", 1_000)
        settler.correct([charge], 10, None)
        settler.release(await limiter.acquire_slot(f"slot:{n}", 1, 0))
    assert len(workers()) == 1  # 400 jobs queued, one task to do them
    worker = workers()[0]
    await drained(settler)
    assert [tokens(limiter, f"key:{n}") for n in range(4)] == [500] * 4  # 50 calls of 10 each
    assert workers() == [worker]  # still there, waiting for the next call
    settler.correct([await charged(limiter, "key:0", 1_000)], 0, None)
    await drained(settler)
    assert workers() == [worker]
    assert tokens(limiter, "key:0") == 500
    await asyncio.wait_for(settler.close(), 10)
    assert workers() == []


async def test_drain_returns_only_once_everything_queued_is_applied(limiter: Gated) -> None:
    settler = Settler(limiter)
    first, second = await charged(limiter, "key:a", 900), await charged(limiter, "key:b", 900)
    slot = await limiter.acquire_slot("slot", 1, 0)
    limiter.gate.clear()  # the limiter is slow to answer
    settler.correct([first], 100, None)
    settler.release(slot)
    settler.correct([second], 300, None)
    draining = asyncio.create_task(settler.drain())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not draining.done()
    assert (tokens(limiter, "key:a"), tokens(limiter, "key:b")) == (900, 900)
    limiter.gate.set()
    await asyncio.wait_for(draining, 10)
    assert (tokens(limiter, "key:a"), tokens(limiter, "key:b")) == (100, 300)
    assert not slot.held
    await (await limiter.acquire_slot("slot", 1, 0)).release()  # free again, no waiting
    await asyncio.wait_for(settler.close(), 10)


async def test_work_queued_while_the_worker_is_busy_is_drained_too(limiter: Gated) -> None:
    settler = Settler(limiter)
    early, late = await charged(limiter, "key:a", 50), await charged(limiter, "key:b", 50)
    limiter.gate.clear()
    settler.correct([early], 10, None)
    for _ in range(5):  # the worker takes the first job and waits on the limiter
        await asyncio.sleep(0)
    settler.correct([late], 20, None)
    draining = asyncio.create_task(settler.drain())
    await asyncio.sleep(0)
    limiter.gate.set()
    await asyncio.wait_for(draining, 10)
    assert limiter.applied == [("key:a", -40), ("key:b", -30)]
    await asyncio.wait_for(settler.close(), 10)


async def test_a_failing_limiter_call_is_logged_and_the_worker_goes_on(
    limiter: Gated, caplog: pytest.LogCaptureFixture
) -> None:
    settler = Settler(limiter)
    limiter.broken.add("key:down")
    down, up = await charged(limiter, "key:down", 500), await charged(limiter, "key:up", 500)
    with caplog.at_level(logging.WARNING, logger="modelyard.gateway"):
        settler.correct([down, up], 100, None)
        await drained(settler)
    assert limiter.applied == [("key:up", -400)]
    [logged] = [r for r in caplog.records if r.name == "modelyard.gateway"]
    assert logged.levelno == logging.WARNING
    assert "could not settle" in logged.getMessage()
    assert logged.exc_info is not None
    assert "limiter down for key:down" in str(logged.exc_info[1])
    [worker] = workers()
    later = await charged(limiter, "key:up", 200)  # a later call still settles
    slot = await limiter.acquire_slot("slot", 1, 0)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="modelyard.gateway"):
        settler.release(BrokenSlot())
        settler.correct([later], 0, None)
        settler.release(slot)
        await drained(settler)
    [failed] = [r for r in caplog.records if r.name == "modelyard.gateway"]
    assert failed.exc_info is not None
    assert isinstance(failed.exc_info[1], ConnectionError)
    assert tokens(limiter, "key:up") == 100
    assert workers() == [worker]
    await (await limiter.acquire_slot("slot", 1, 0)).release()
    await asyncio.wait_for(settler.close(), 10)


async def test_close_drains_then_stops_the_worker_and_may_be_called_twice(
    limiter: Gated,
) -> None:
    settler = Settler(limiter)
    await asyncio.wait_for(settler.close(), 10)  # nothing was ever queued: no worker to stop
    charge = await charged(limiter, "key:a", 700)
    limiter.gate.clear()
    settler.correct([charge], 200, None)
    closing = asyncio.create_task(settler.close())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not closing.done()  # still draining
    assert len(workers()) == 1
    limiter.gate.set()
    await asyncio.wait_for(closing, 10)
    assert tokens(limiter, "key:a") == 200
    assert workers() == []
    await asyncio.wait_for(settler.close(), 10)
    assert workers() == []


async def test_the_provider_that_served_is_charged_what_was_used_and_the_others_refunded(
    limiter: Gated,
) -> None:
    settler = Settler(limiter)
    served = await charged(limiter, "provider:a", 1_000, provider="a")
    skipped = await charged(limiter, "provider:b", 1_000, provider="b")
    caller = await charged(limiter, "key:k", 1_000)
    exact = await charged(limiter, "user:u", 250)
    settler.correct([served, skipped, caller, exact], 250, "a")
    await drained(settler)
    assert [tokens(limiter, k) for k in ("provider:a", "provider:b", "key:k", "user:u")] == [
        250,
        0,
        250,
        250,
    ]
    assert ("user:u", 0) not in limiter.applied  # nothing to correct: no job at all
    await asyncio.wait_for(settler.close(), 10)


async def test_nothing_to_correct_starts_no_worker(limiter: Gated) -> None:
    settler = Settler(limiter)
    settler.correct([await charged(limiter, "key:a", 40)], 40, None)
    settler.correct([], 10, None)
    assert workers() == []
    await settler.drain()  # returns at once: nothing is queued


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def slots(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Limiter]]:
    made: list[Limiter] = []
    redis = request.param == "redis"
    url = request.getfixturevalue("redis_url") if redis else ""
    prefix = request.getfixturevalue("redis_prefix") if redis else ""

    def make() -> Limiter:
        made.append(RedisLimiter.from_url(url, prefix) if redis else MemoryLimiter())
        return made[-1]

    yield make
    for each in made:
        await each.aclose()


async def test_a_slot_released_through_the_settler_is_free_again(
    slots: Callable[[], Limiter],
) -> None:
    limiter = slots()
    settler = Settler(limiter)
    held = await limiter.acquire_slot("plan-parallel:u", 1, 0)
    with pytest.raises(ProviderBusy):
        await limiter.acquire_slot("plan-parallel:u", 1, 0)
    waiting = asyncio.create_task(limiter.acquire_slot("plan-parallel:u", 1, 10))
    settler.release(held)
    await drained(settler)
    handed = await waiting  # the caller waiting for it got it
    settler.release(handed)
    await drained(settler)
    again = await limiter.acquire_slot("plan-parallel:u", 1, 0)  # free: no waiting at all
    await again.release()
    await asyncio.wait_for(settler.close(), 10)


class HungSlot(Slot):
    """A slot whose release hangs until ``gate`` opens (a Redis round trip during failover)."""

    def __init__(self, gate: asyncio.Event) -> None:
        super().__init__()
        self.gate = gate
        self.given_back = False

    async def _release(self) -> None:
        await self.gate.wait()
        self.given_back = True


async def test_a_slot_release_that_hangs_holds_up_no_other_release() -> None:
    limiter = MemoryLimiter()
    settler = Settler(limiter)
    gate = asyncio.Event()
    stuck = [HungSlot(gate) for _ in range(5)]
    for slot in stuck:
        settler.release(slot)
    held = await limiter.acquire_slot("plan-parallel:u", 1, 1.0)
    settler.release(held)
    # The memory slot is free at once although five releases ahead of it are still hanging.
    again = await limiter.acquire_slot("plan-parallel:u", 1, 1.0)
    assert not any(slot.given_back for slot in stuck)
    await again.release()
    gate.set()
    await drained(settler)
    assert all(slot.given_back for slot in stuck)
    await settler.close()


def test_a_settler_settles_in_whichever_event_loop_it_is_used() -> None:
    limiter = MemoryLimiter()
    settler = Settler(limiter)

    async def two_calls() -> None:
        for _ in range(2):  # the worker waits for work in between
            charge = await charged(limiter, "provider:p", 100)
            settler.correct([charge], 40, None)
            await drained(settler)
            await asyncio.sleep(0)
            assert len(workers()) == 1  # waiting for the next call's work, not dead
        await settler.close()

    asyncio.run(two_calls())  # a gateway started, stopped, and started again in a new loop
    asyncio.run(two_calls())
    window = asyncio.run(limiter.hit("provider:p", rpm=None, tpm=100_000, tokens=0))
    assert window.remaining_tokens == 100_000 - 4 * 40  # each call charged 40, not 100
