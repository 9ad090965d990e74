"""The local Redis server for gateway tests (shared limits across replicas).

Each test run writes under its own key prefix, each test under its own part of it, and every
key under the run's prefix is deleted afterwards. With CI=true a missing Redis fails the run;
elsewhere those tests are skipped with the reason.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator

import pytest
import redis

REDIS_URL = os.environ.get("MODELYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
pytest.register_assert_rewrite("tests.gateway.fault_rig")  # its checks explain themselves
IN_CI = os.environ.get("CI", "").lower() == "true"
_tests = itertools.count()


def _delete(client: redis.Redis, prefix: str) -> None:
    batch = list(client.scan_iter(match=f"{prefix}*", count=500))
    if batch:
        client.unlink(*batch)


@pytest.fixture(scope="session")
def redis_run() -> Iterator[tuple[str, str] | str]:
    """``(url, run prefix)``, or why Redis is unavailable (probed once per run)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        client.close()
        yield f"{REDIS_URL} {type(exc).__name__}: {exc}"
        return
    prefix = f"modelyard-test:{uuid.uuid4().hex[:12]}"
    try:
        yield REDIS_URL, prefix
    finally:
        _delete(client, prefix)
        client.close()


@pytest.fixture
def redis_url(redis_run: tuple[str, str] | str) -> str:
    if isinstance(redis_run, str):
        if IN_CI:
            pytest.fail(f"Redis is required in CI: {redis_run}")
        pytest.skip(f"Redis not available: {redis_run}")
    return redis_run[0]


@pytest.fixture
def redis_prefix(redis_url: str, redis_run: tuple[str, str]) -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted when it ends."""
    prefix = f"{redis_run[1]}:{next(_tests)}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        _delete(client, prefix + ":")
    finally:
        client.close()


@pytest.fixture(params=["memory", "redis"])
def limits(request: pytest.FixtureRequest) -> tuple[str, str] | None:
    """Where a test gateway keeps its limits: None (in memory), or Redis (url, key prefix)."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    return url, prefix
