"""The console's "test connection" rationing counted in Redis when it is configured: two
limiters on one prefix stand for two workers (or replicas) of one deployment."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from modelyard.api.web.console import probe_gate
from modelyard.errors import TooManyAttempts
from modelyard.gateway.limits import Limiter, make_limiter


@pytest.fixture
async def workers(redis_env: dict[str, str]) -> AsyncIterator[tuple[Limiter, Limiter]]:
    prefix = f"{redis_env['MODELYARD_REDIS_PREFIX']}:probe:{uuid.uuid4().hex[:6]}"
    a = make_limiter(redis_env["MODELYARD_REDIS_URL"], prefix)
    b = make_limiter(redis_env["MODELYARD_REDIS_URL"], prefix)
    try:
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_provider_under_test_on_one_worker_is_busy_on_the_other(
    workers: tuple[Limiter, Limiter],
) -> None:
    a, b = workers
    provider = uuid.uuid4()
    async with probe_gate.admitted(uuid.uuid4(), provider, a):
        with pytest.raises(TooManyAttempts, match="being tested now"):
            async with probe_gate.admitted(uuid.uuid4(), provider, b):
                pass
    with pytest.raises(RuntimeError):  # a failing test frees its slot too
        async with probe_gate.admitted(uuid.uuid4(), provider, b):
            raise RuntimeError("upstream gone")
    async with probe_gate.admitted(uuid.uuid4(), provider, a):
        pass


async def test_a_persons_tests_a_minute_are_counted_across_workers(
    workers: tuple[Limiter, Limiter],
) -> None:
    person = uuid.uuid4()
    for turn in range(probe_gate.PER_MINUTE):
        async with probe_gate.admitted(person, uuid.uuid4(), workers[turn % 2]):
            pass
    for limiter in workers:
        with pytest.raises(TooManyAttempts, match="in the last minute") as refused:
            async with probe_gate.admitted(person, uuid.uuid4(), limiter):
                pass
        assert refused.value.retry_after is not None
        assert 0 < refused.value.retry_after <= probe_gate.WINDOW_S
    async with probe_gate.admitted(uuid.uuid4(), uuid.uuid4(), workers[1]):  # others still may
        pass
