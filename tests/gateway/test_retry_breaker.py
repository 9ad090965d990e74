"""Retries (backoff, Retry-After, deadline) with a fake clock and sleep, and the circuit
breaker with an injected clock: nothing here really waits."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest

from modelyard.errors import (
    RateLimited,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from modelyard.gateway.breaker import CircuitBreaker
from modelyard.gateway.retry import delays, with_retries
from modelyard.registry.system_settings import RetryPolicy

PRESET = [30_000, 60_000, 90_000, 120_000]


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def failing(*errors: BaseException) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """A call that raises ``errors`` one by one, then answers "ok"."""
    calls: list[int] = []

    async def call() -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "ok"

    return call, calls


def unavailable() -> UpstreamUnavailable:
    return UpstreamUnavailable("503 from upstream", upstream_status=503)


def test_backoff_doubles_up_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay_ms=500, max_delay_ms=3_000, jitter=False)
    assert list(delays(policy, random.Random(1))) == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_full_jitter_stays_between_zero_and_the_backoff() -> None:
    policy = RetryPolicy(max_attempts=8, base_delay_ms=100, max_delay_ms=1_000, jitter=True)
    caps = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    rng = random.Random(7)
    seen = [list(delays(policy, rng)) for _ in range(200)]
    for run in seen:
        assert all(0.0 <= wait <= cap for wait, cap in zip(run, caps, strict=True))
    assert max(run[-1] for run in seen) > 0.9
    assert min(run[-1] for run in seen) < 0.1


def test_an_explicit_schedule_is_used_as_written_and_repeats_its_last_delay() -> None:
    preset = RetryPolicy(max_attempts=5, schedule_ms=PRESET, jitter=True, max_delay_ms=8_000)
    assert list(delays(preset, random.Random(1))) == [30.0, 60.0, 90.0, 120.0]
    short = RetryPolicy(max_attempts=4, schedule_ms=[100, 250])
    assert list(delays(short)) == [0.1, 0.25, 0.25]
    assert list(delays(RetryPolicy(max_attempts=3, schedule_ms=[]))) == [0.0, 0.0]


async def test_seed_preset_waits_30_60_90_120_seconds_between_attempts() -> None:
    fake = FakeTime()
    policy = RetryPolicy(max_attempts=5, schedule_ms=PRESET, deadline_ms=600_000)
    call, calls = failing(*(unavailable() for _ in range(4)))
    retried: list[tuple[int, str, float]] = []
    result = await with_retries(
        call,
        policy,
        deadline=fake() + 600,
        sleep=fake.sleep,
        clock=fake,
        on_retry=lambda n, exc, wait: retried.append((n, exc.code, wait)),
    )
    assert (result, len(calls)) == (("ok", 5), 5)
    assert fake.waits == [30.0, 60.0, 90.0, 120.0]
    assert [n for n, _, _ in retried] == [1, 2, 3, 4]
    assert {code for _, code, _ in retried} == {"UPSTREAM_UNAVAILABLE"}


@pytest.mark.parametrize(("retry_after", "expected"), [(7.0, 7.0), (0.1, 0.5)])
async def test_retry_after_lengthens_the_backoff_but_never_shortens_it(
    retry_after: float, expected: float
) -> None:
    fake = FakeTime()
    policy = RetryPolicy(base_delay_ms=500, jitter=False)
    call, _ = failing(RateLimited("slow down", upstream_status=429, retry_after=retry_after))
    result = await with_retries(call, policy, deadline=60, sleep=fake.sleep, clock=fake)
    assert result == ("ok", 2)
    assert fake.waits == [expected]


async def test_no_wait_crosses_the_deadline_and_the_last_error_is_raised() -> None:
    fake = FakeTime()
    policy = RetryPolicy(max_attempts=5, schedule_ms=PRESET, deadline_ms=600_000)
    errors = [unavailable(), UpstreamTimeout("t1"), UpstreamTimeout("t2"), unavailable()]
    call, calls = failing(*errors)
    with pytest.raises(UpstreamTimeout) as caught:
        await with_retries(call, policy, deadline=100, sleep=fake.sleep, clock=fake)
    assert caught.value is errors[2]
    assert fake.waits == [30.0, 60.0]
    assert len(calls) == 3
    assert getattr(caught.value, "attempts", None) == 3


async def test_a_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    fake = FakeTime()
    call, calls = failing(RateLimited("later", retry_after=3_600))
    with pytest.raises(RateLimited):
        await with_retries(call, RetryPolicy(), deadline=60, sleep=fake.sleep, clock=fake)
    assert (fake.waits, len(calls)) == ([], 1)


@pytest.mark.parametrize(
    "error",
    [
        UpstreamBadRequest("bad field", upstream_status=400),
        UpstreamAuthFailed("bad key", upstream_status=401),
        UpstreamError("odd reply"),
    ],
)
async def test_errors_that_are_not_retryable_are_raised_at_once(error: UpstreamError) -> None:
    fake = FakeTime()
    call, calls = failing(error)
    with pytest.raises(type(error)):
        await with_retries(call, RetryPolicy(), deadline=60, sleep=fake.sleep, clock=fake)
    assert (fake.waits, len(calls), getattr(error, "attempts", None)) == ([], 1, 1)


async def test_other_exceptions_propagate_untouched() -> None:
    fake = FakeTime()
    call, calls = failing(ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        await with_retries(call, RetryPolicy(), deadline=60, sleep=fake.sleep, clock=fake)
    assert len(calls) == 1


async def test_max_attempts_counts_every_call() -> None:
    fake = FakeTime()
    policy = RetryPolicy(max_attempts=3, base_delay_ms=100, jitter=False)
    call, calls = failing(*(unavailable() for _ in range(10)))
    with pytest.raises(UpstreamUnavailable) as caught:
        await with_retries(call, policy, deadline=60, sleep=fake.sleep, clock=fake)
    assert len(calls) == 3
    assert fake.waits == [0.1, 0.2]
    assert getattr(caught.value, "attempts", None) == 3


async def test_the_default_clock_is_the_running_loops() -> None:
    loop = asyncio.get_running_loop()
    policy = RetryPolicy(base_delay_ms=1, max_delay_ms=2, jitter=False)
    call, _ = failing(unavailable(), unavailable())
    assert await with_retries(call, policy, deadline=loop.time() + 5) == ("ok", 3)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, cooldown_s=30, clock=clock)


def test_the_circuit_opens_after_threshold_consecutive_failures(breaker: CircuitBreaker) -> None:
    for _ in range(2):
        breaker.failure("p1", unavailable())
    assert (breaker.state("p1"), breaker.allow("p1")) == ("closed", True)
    breaker.success("p1")
    for _ in range(2):
        breaker.failure("p1", unavailable())
    assert breaker.state("p1") == "closed"
    breaker.failure("p1")
    assert (breaker.state("p1"), breaker.allow("p1")) == ("open", False)
    assert (breaker.state("p2"), breaker.allow("p2")) == ("closed", True)


def test_half_open_lets_exactly_one_probe_through_and_success_closes(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    for _ in range(3):
        breaker.failure("p1", unavailable())
    clock.now += 29.9
    assert not breaker.allow("p1")
    clock.now += 0.1
    assert breaker.state("p1") == "half_open"
    assert [breaker.allow("p1") for _ in range(3)] == [True, False, False]
    breaker.success("p1")
    assert breaker.state("p1") == "closed"
    assert all(breaker.allow("p1") for _ in range(3))


def test_a_failed_probe_opens_the_circuit_for_another_cooldown(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    for _ in range(3):
        breaker.failure("p1", RateLimited("429"))
    clock.now += 30
    assert breaker.allow("p1")
    breaker.failure("p1", UpstreamTimeout("timeout"))
    assert (breaker.state("p1"), breaker.allow("p1")) == ("open", False)
    clock.now += 30
    assert breaker.allow("p1")


def test_a_probe_that_never_reports_is_replaced_after_a_cooldown(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    for _ in range(3):
        breaker.failure("p1")
    clock.now += 30
    assert breaker.allow("p1")
    clock.now += 29
    assert not breaker.allow("p1")
    clock.now += 1
    assert breaker.allow("p1")


def test_bad_requests_do_not_count_but_auth_failures_do(breaker: CircuitBreaker) -> None:
    for _ in range(10):
        breaker.failure("p1", UpstreamBadRequest("bad field", upstream_status=400))
        breaker.failure("p1", ValueError("not an upstream failure"))
    assert breaker.state("p1") == "closed"
    for _ in range(3):
        breaker.failure("p1", UpstreamAuthFailed("bad key", upstream_status=401))
    assert breaker.state("p1") == "open"


def test_a_breaker_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)
