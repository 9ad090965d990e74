"""Limits: the same behaviour from the memory backend and, against the real Redis, the Redis
backend; then what only Redis does (replicas sharing limits, leases that expire)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from modelyard.errors import LimitExceeded, ProviderBusy
from modelyard.gateway.limits import UNLIMITED, Limiter, MemoryLimiter, Window, make_limiter
from modelyard.gateway.limits.redis import RedisLimiter

P = "parallel:p1"
K = "provider:p1"
Factory = Callable[..., Limiter]


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def replicas(redis_url: str, redis_prefix: str) -> AsyncIterator[Callable[..., RedisLimiter]]:
    """Build Redis limiters sharing this test's key prefix, as replicas would."""
    made: list[RedisLimiter] = []

    def replica(**options: Any) -> RedisLimiter:
        made.append(RedisLimiter.from_url(redis_url, redis_prefix, **options))
        return made[-1]

    yield replica
    for limiter in made:
        await limiter.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def make(request: pytest.FixtureRequest) -> Factory:
    """Build limiters of one backend, with an optional injected clock."""
    if request.param == "redis":
        replica = request.getfixturevalue("replicas")
        return lambda clock=None, **options: replica(clock=clock, **options)
    return lambda clock=None: MemoryLimiter(clock) if clock else MemoryLimiter()


async def arrived(limiter: Limiter, count: int) -> None:
    """Wait until ``count`` callers queue for P (so the next one arrives after them)."""
    for _ in range(500):
        if isinstance(limiter, RedisLimiter):
            queued = await limiter.redis.zcard(limiter.keys(P)[1][1])
        else:
            queued = len(limiter._queues[P].waiters)  # type: ignore[attr-defined]
        if queued >= count:
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"{count} callers never queued")


async def test_no_more_than_limit_callers_hold_a_slot_at_once(make: Factory) -> None:
    limiter = make()
    inside = peak = 0

    async def one() -> None:
        nonlocal inside, peak
        async with await limiter.acquire_slot(P, 3, 10):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.005)
            inside -= 1

    await asyncio.gather(*(one() for _ in range(20)))
    assert peak == 3


async def admission_order(limiters: list[Limiter], count: int) -> list[int]:
    """Hold P, queue ``count`` callers one after another (taking turns over ``limiters``),
    free P, and return the order in which the callers got in."""
    first = await limiters[0].acquire_slot(P, 1, 1)
    order: list[int] = []

    async def one(i: int) -> None:
        async with await limiters[i % len(limiters)].acquire_slot(P, 1, 10):
            order.append(i)
            await asyncio.sleep(0.001)

    tasks = []
    for i in range(count):
        tasks.append(asyncio.create_task(one(i)))
        await arrived(limiters[0], i + 1)
    await first.release()
    await asyncio.gather(*tasks)
    return order


async def test_waiting_callers_are_admitted_in_arrival_order(make: Factory) -> None:
    assert await admission_order([make()], 8) == list(range(8))


@pytest.mark.parametrize("gives_up", ["timeout", "cancel"])
async def test_a_waiter_that_gives_up_leaves_the_queue(make: Factory, gives_up: str) -> None:
    limiter = make()
    held = await limiter.acquire_slot(P, 1, 1)
    if gives_up == "timeout":
        with pytest.raises(ProviderBusy) as caught:
            await limiter.acquire_slot(P, 1, 0.05)
        assert (caught.value.status, caught.value.code) == (429, "PROVIDER_BUSY")
        assert (caught.value.details["limit"], caught.value.details["scope"]) == (1, "parallel")
        with pytest.raises(ProviderBusy):
            await limiter.acquire_slot(P, 1, 0)
    else:
        waiter = asyncio.create_task(limiter.acquire_slot(P, 1, 10))
        await arrived(limiter, 1)
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
    await held.release()
    await (await limiter.acquire_slot(P, 1, 0.05)).release()


async def test_the_slot_is_released_when_the_call_raises(make: Factory) -> None:
    limiter = make()
    with pytest.raises(RuntimeError):
        async with await limiter.acquire_slot(P, 1, 1) as slot:
            raise RuntimeError("upstream blew up")
    assert not slot.held
    await (await limiter.acquire_slot(P, 1, 0.05)).release()


async def test_releasing_twice_frees_only_one_slot(make: Factory) -> None:
    limiter = make()
    first = await limiter.acquire_slot(P, 1, 1)
    await first.release()
    await first.release()
    second = await limiter.acquire_slot(P, 1, 1)
    with pytest.raises(ProviderBusy):
        await limiter.acquire_slot(P, 1, 0.05)
    await second.release()


async def test_rpm_refuses_until_the_window_ends(make: Factory) -> None:
    clock = Clock()
    limiter = make(clock)
    for remaining in (1, 0):
        window = await limiter.hit(K, rpm=2, tpm=None, tokens=10)
        assert (window.remaining_requests, window.remaining_tokens) == (remaining, None)
    clock.now += 20
    with pytest.raises(LimitExceeded) as caught:
        await limiter.hit(K, rpm=2, tpm=None, tokens=10)
    error = caught.value
    assert (error.status, error.code, error.limit) == (429, "LIMIT_EXCEEDED", "rpm")
    assert error.retry_after == pytest.approx(40)
    assert error.details["scope"] == "provider"
    assert (await limiter.hit("key:k1", rpm=2, tpm=None, tokens=10)).remaining_requests == 1
    clock.now += 40
    assert (await limiter.hit(K, rpm=2, tpm=None, tokens=10)).remaining_requests == 1


async def test_tpm_counts_prompt_and_charged_completion_tokens(make: Factory) -> None:
    clock = Clock()
    limiter = make(clock)
    window = await limiter.hit(K, rpm=None, tpm=100, tokens=40)
    assert (window.remaining_tokens, window.remaining_requests) == (60, None)
    await limiter.add_tokens(K, 50)
    clock.now += 59
    with pytest.raises(LimitExceeded) as caught:
        await limiter.hit(K, rpm=None, tpm=100, tokens=20)
    assert caught.value.limit == "tpm"
    assert caught.value.retry_after == pytest.approx(1)
    assert (await limiter.hit(K, rpm=None, tpm=100, tokens=10)).remaining_tokens == 0
    clock.now += 1
    assert (await limiter.hit(K, rpm=None, tpm=100, tokens=20)).remaining_tokens == 80


async def test_a_refund_counts_only_in_the_window_it_was_charged_and_never_below_zero(
    make: Factory,
) -> None:
    clock = Clock()
    limiter = make(clock)
    charged = await limiter.hit(K, rpm=None, tpm=100, tokens=90)  # the budget: 90
    assert charged.start is not None
    await limiter.add_tokens(K, -70, charged.start)  # used 20
    assert (await limiter.hit(K, rpm=None, tpm=100, tokens=0)).remaining_tokens == 80
    await limiter.add_tokens(K, -500, charged.start)  # more than was charged: floors at 0
    assert (await limiter.hit(K, rpm=None, tpm=100, tokens=0)).remaining_tokens == 100
    stale = await limiter.hit(K, rpm=None, tpm=100, tokens=50)
    clock.now += 60  # a new window starts; the old one's refund must not lower it
    assert (await limiter.hit(K, rpm=None, tpm=100, tokens=30)).remaining_tokens == 70
    await limiter.add_tokens(K, -50, stale.start)
    assert (await limiter.hit(K, rpm=None, tpm=100, tokens=0)).remaining_tokens == 70


async def test_hit_many_counts_every_scope_and_names_the_one_that_refuses(make: Factory) -> None:
    limiter = make(Clock())
    scopes = [("key:k", 3, None), ("user:u", 2, 1000), ("plan:u", None, None)]
    windows = await limiter.hit_many(scopes, 100)
    assert [w.remaining_requests for w in windows] == [2, 1]  # the unlimited scope is skipped
    assert windows[1].remaining_tokens == 900
    await limiter.hit_many(scopes, 100)
    with pytest.raises(LimitExceeded) as caught:
        await limiter.hit_many(scopes, 100)
    assert caught.value.key == "user:u"
    assert caught.value.limit == "rpm"
    assert await limiter.hit_many([("plan:u", None, None)], 5) == []


async def test_a_request_over_the_whole_tpm_never_fits(make: Factory) -> None:
    limiter = make(Clock())
    with pytest.raises(LimitExceeded) as caught:
        await limiter.hit(K, rpm=None, tpm=100, tokens=500)
    assert caught.value.retry_after is None
    assert "more than" in caught.value.message


async def test_window_headers_report_limits_remaining_and_reset(make: Factory) -> None:
    clock = Clock()
    limiter = make(clock)
    window = await limiter.hit(K, rpm=10, tpm=1000, tokens=100)
    assert window.headers() == {
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "9",
        "x-ratelimit-reset-requests": "1m0s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "900",
        "x-ratelimit-reset-tokens": "1m0s",
    }
    clock.now += 15.5
    headers = (await limiter.hit(K, rpm=10, tpm=None, tokens=0)).headers()
    assert headers["x-ratelimit-remaining-requests"] == "8"
    assert headers["x-ratelimit-reset-requests"] == "44.5s"
    assert "x-ratelimit-limit-tokens" not in headers
    assert await limiter.hit(K, rpm=None, tpm=None, tokens=5) is UNLIMITED
    assert UNLIMITED.headers() == {}


def test_the_tightest_of_two_windows_wins_per_limit() -> None:
    provider = Window(100, 50, 10_000, 9_000, 30.0)
    api_key = Window(10, 2, None, None, 45.0)
    assert provider.tightest(api_key) == Window(10, 2, 10_000, 9_000, 45.0)
    assert Window(reset_s=0.25).headers() == {}
    assert Window(1, 0, reset_s=0.25).headers()["x-ratelimit-reset-requests"] == "250ms"


def test_make_limiter_picks_the_backend_from_the_url() -> None:
    assert isinstance(make_limiter(None, "modelyard"), MemoryLimiter)
    assert isinstance(make_limiter("redis://127.0.0.1:6379/0", "modelyard"), RedisLimiter)


async def test_a_key_is_claimed_once_until_its_holder_gives_it_back(make: Factory) -> None:
    limiter = make()
    assert await limiter.claim("idempotency:u1:k", "first", 60)
    assert not await limiter.claim("idempotency:u1:k", "second", 60)
    await limiter.unclaim("idempotency:u1:k", "second")  # not its claim: nothing happens
    assert not await limiter.claim("idempotency:u1:k", "third", 60)
    assert await limiter.claim("idempotency:u2:k", "other user", 60)
    await limiter.unclaim("idempotency:u1:k", "first")
    assert await limiter.claim("idempotency:u1:k", "fourth", 60)


async def test_a_claim_lasts_its_ttl_and_expired_claims_are_forgotten() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    assert await limiter.claim("a", "t1", 10)
    clock.now += 9.9
    assert not await limiter.claim("a", "t2", 10)
    clock.now += 0.2
    assert await limiter.claim("a", "t3", 10)  # expired: claimed anew
    for n in range(100):
        await limiter.claim(f"k{n}", "t", 1)
    clock.now += 20
    await limiter.claim("b", "t", 1)
    assert set(limiter._claims) == {"b"}  # type: ignore[attr-defined]


@pytest.mark.redis
async def test_a_claim_on_one_replica_holds_on_the_others_for_its_ttl(
    replicas: Callable[..., RedisLimiter], redis_prefix: str
) -> None:
    a, b = replicas(), replicas()
    assert await a.claim("idempotency:u:k", "a", 30)
    assert not await b.claim("idempotency:u:k", "b", 30)
    ttl = await a.redis.pttl(f"{redis_prefix}:{{idempotency:u:k}}:claim")
    assert 0 < ttl <= 30_000
    await b.unclaim("idempotency:u:k", "b")  # not b's claim
    assert not await b.claim("idempotency:u:k", "b", 30)
    await a.unclaim("idempotency:u:k", "a")
    assert await b.claim("idempotency:u:k", "b", 30)


@pytest.mark.redis
async def test_two_replicas_share_rate_limits_and_slots(
    replicas: Callable[..., RedisLimiter], redis_prefix: str
) -> None:
    clock = Clock()
    a, b = replicas(clock=clock), replicas(clock=clock)
    await a.hit(K, rpm=2, tpm=None, tokens=1)
    assert (await b.hit(K, rpm=2, tpm=None, tokens=1)).remaining_requests == 0
    with pytest.raises(LimitExceeded):
        await a.hit(K, rpm=2, tpm=None, tokens=1)
    held = await a.acquire_slot(P, 1, 1)
    with pytest.raises(ProviderBusy):
        await b.acquire_slot(P, 1, 0.05)
    await held.release()
    await (await b.acquire_slot(P, 1, 0.05)).release()
    ours = await a.redis.keys(f"{redis_prefix}:*")
    assert ours
    assert all(ttl > 0 for ttl in [await a.redis.pttl(k) for k in ours])


@pytest.mark.redis
async def test_waiters_on_two_replicas_are_admitted_in_ticket_order(
    replicas: Callable[..., RedisLimiter],
) -> None:
    assert await admission_order([replicas(), replicas()], 6) == list(range(6))


@pytest.mark.redis
async def test_a_crashed_holders_lease_expires_and_frees_the_slot(
    replicas: Callable[..., RedisLimiter],
) -> None:
    clock = Clock()
    a, b = replicas(clock=clock, lease_s=30), replicas(clock=clock, lease_s=30)
    crashed = await a.acquire_slot(P, 1, 1)
    with pytest.raises(ProviderBusy):
        await b.acquire_slot(P, 1, 0.05)
    clock.now += 31
    taken = await b.acquire_slot(P, 1, 0.05)
    await crashed.release()
    with pytest.raises(ProviderBusy):
        await a.acquire_slot(P, 1, 0.05)
    await taken.release()


@pytest.mark.redis
async def test_a_lease_is_renewed_while_its_holder_runs(
    replicas: Callable[..., RedisLimiter],
) -> None:
    a = replicas(lease_s=0.2)
    held = await a.acquire_slot(P, 1, 1)
    await asyncio.sleep(0.5)
    with pytest.raises(ProviderBusy):
        await a.acquire_slot(P, 1, 0.05)
    await held.release()
    await (await a.acquire_slot(P, 1, 0.05)).release()


async def test_unreachable_redis_falls_back_to_limits_in_this_replica(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisLimiter.from_url("redis://127.0.0.1:1/0", "modelyard-test", clock=Clock())
    async with contextlib.aclosing(limiter):
        with caplog.at_level(logging.WARNING, logger="modelyard.gateway"):
            assert (await limiter.hit(K, rpm=1, tpm=None, tokens=1)).remaining_requests == 0
            with pytest.raises(LimitExceeded):
                await limiter.hit(K, rpm=1, tpm=None, tokens=1)
            async with await limiter.acquire_slot(P, 1, 1):
                with pytest.raises(ProviderBusy):
                    await limiter.acquire_slot(P, 1, 0.01)
        assert "unreachable" in caplog.text


@pytest.mark.parametrize("timeout_s", [0.2, 1.5])
async def test_a_redis_that_never_answers_counts_as_unreachable_after_the_set_timeout(
    timeout_s: float, caplog: pytest.LogCaptureFixture
) -> None:
    """MODELYARD_REDIS_TIMEOUT_S: a Redis that accepts and stays silent costs the call that
    long, then limits are this replica's own (and the next calls do not wait again)."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = make_limiter(f"redis://127.0.0.1:{port}/0", "modelyard-test", timeout_s)
    assert isinstance(limiter, RedisLimiter)
    loop = asyncio.get_running_loop()
    try:
        with caplog.at_level(logging.WARNING, logger="modelyard.gateway"):
            started = loop.time()
            await limiter.hit(K, rpm=5, tpm=None, tokens=1)
            assert loop.time() - started >= timeout_s * 0.9  # it waited the whole timeout
            assert limiter.per_replica_for_s() > 0
            assert len(accepted) == 1  # it did connect: the command timed out
            await limiter.hit(K, rpm=5, tpm=None, tokens=1)
            assert len(accepted) == 1  # known down: the next call does not try again
        assert "unreachable" in caplog.text
        kwargs = limiter.redis.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == timeout_s
    finally:
        await limiter.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
