"""Servers of several worker processes, on SQLite and on the machine's PostgreSQL, with the
machine's Redis under a prefix of the module's own (deleted afterwards). Each is slow to
start, so a module shares one per database. With CI=true a missing PostgreSQL or Redis
fails the run; elsewhere the tests needing it are skipped with the reason."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import IN_CI
from tests.deploy.upstream import Upstream, upstream
from tests.gateway.conftest import REDIS_URL
from tests.support import pg


def _missing(what: str, reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required in CI: {reason}")
    pytest.skip(f"{what} not available: {reason}")


@pytest.fixture(scope="module")
def redis_env() -> Iterator[dict[str, str]]:
    """The settings that give a server the machine's Redis under a prefix of its own."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        client.close()
        _missing("Redis", f"{REDIS_URL} {type(exc).__name__}: {exc}")
    prefix = f"modelyard-test:{uuid.uuid4().hex[:12]}"
    try:
        yield {"MODELYARD_REDIS_URL": REDIS_URL, "MODELYARD_REDIS_PREFIX": prefix}
    finally:
        batch = list(client.scan_iter(match=f"{prefix}*", count=500))
        if batch:
            client.unlink(*batch)
        client.close()


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """An empty PostgreSQL database of the module's own (the server migrates it)."""
    reason = pg.unavailable()
    if reason:
        _missing("PostgreSQL", reason)
    name = f"modelyard_workers_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(pg.create_database(name))
    try:
        yield url
    finally:
        asyncio.run(pg.drop_database(name))


@pytest.fixture(scope="module")
def mock_upstream() -> Iterator[Upstream]:
    with upstream() as state:
        yield state
