"""The gateway's access-token cache against a stub of the database lookup: what it keeps and
for how long, how it batches and bounds lookups, and what its callers get when the database
fails or the gateway stops. (End to end, on both databases: test_v1_oauth_tokens.py.)"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from modelyard.errors import NotReady, Unauthenticated
from modelyard.gateway.tokens import TokenCache
from modelyard.registry import oauth_access
from modelyard.registry.oauth_access import Access, digest
from modelyard.registry.tx import Database

NOW = datetime(2030, 1, 1, tzinfo=UTC)
USER = uuid.uuid4()


def token() -> str:
    return "myat_" + secrets.token_urlsafe(32)


def access(expires: datetime = NOW + timedelta(hours=1)) -> Access:
    return Access(
        uuid.uuid4(),
        USER,
        "member",
        "ann@example.com",
        frozenset({"llm.inference"}),
        uuid.uuid4(),
        "app",
        expires,
        7,
        None,
    )


class Stub:
    """``find_many``: answers from ``valid`` at ``generation``; counts batches and how many
    ran at once; waits on ``gate`` when set; raises ``fail`` when set."""

    def __init__(self) -> None:
        self.valid: dict[str, Access] = {}
        self.generation = 1
        self.batches: list[list[str]] = []
        self.running = self.most = 0
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None

    async def __call__(self, _db: Any, hashes: Sequence[str]) -> tuple[int, dict[str, Access]]:
        self.batches.append(list(hashes))
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0)
            if self.gate is not None:
                await self.gate.wait()
            if self.fail is not None:
                raise self.fail
            return self.generation, {h: self.valid[h] for h in hashes if h in self.valid}
        finally:
            self.running -= 1


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Stub:
    found = Stub()
    monkeypatch.setattr(oauth_access, "find_many", found)
    return found


def cache(**options: Any) -> TokenCache:
    return TokenCache(cast(Database, None), **options)


def valid(stub: Stub) -> str:
    text = token()
    stub.valid[digest(text)] = access()
    return text


async def test_a_token_is_asked_for_once_then_served_from_memory(stub: Stub) -> None:
    tokens, text = cache(), valid(stub)
    for _ in range(5):
        entry = await tokens.authenticate(text, 1, NOW)
        assert entry.user_id == USER
        assert entry.key_id is None
        assert entry.client_id == "app"
        assert entry.user_rpm_limit == 7
    assert len(stub.batches) == 1


async def test_a_new_generation_drops_what_was_kept_and_refused(stub: Stub) -> None:
    tokens, text, unknown = cache(), valid(stub), token()
    await tokens.authenticate(text, 1, NOW)
    with pytest.raises(Unauthenticated):
        await tokens.authenticate(unknown, 1, NOW)
    with pytest.raises(Unauthenticated):
        await tokens.authenticate(unknown, 1, NOW)
    assert len(stub.batches) == 2
    del stub.valid[digest(text)]  # revoked, and the generation moved
    stub.generation = 2
    with pytest.raises(Unauthenticated):
        await tokens.authenticate(text, 2, NOW)
    stub.valid[digest(unknown)] = access()  # e.g. its user reinstated
    assert (await tokens.authenticate(unknown, 2, NOW)).user_id == USER


async def test_an_answer_older_than_the_cache_is_used_once_not_kept(stub: Stub) -> None:
    tokens, text = cache(), valid(stub)
    stub.generation = 4  # the database answered before the change the cache has seen
    await tokens.authenticate(text, 5, NOW)
    await tokens.authenticate(text, 5, NOW)
    assert len(stub.batches) == 2
    stub.generation = 5
    await tokens.authenticate(text, 5, NOW)
    await tokens.authenticate(text, 5, NOW)
    assert len(stub.batches) == 3


async def test_expiry_is_checked_per_call(stub: Stub) -> None:
    tokens, text = cache(), token()
    stub.valid[digest(text)] = access(expires=NOW + timedelta(seconds=1))
    await tokens.authenticate(text, 1, NOW)
    with pytest.raises(Unauthenticated):
        await tokens.authenticate(text, 1, NOW + timedelta(seconds=1))
    with pytest.raises(Unauthenticated):  # refused from memory now
        await tokens.authenticate(text, 1, NOW)
    assert len(stub.batches) == 1


async def test_refusals_are_kept_for_their_ttl_and_malformed_tokens_never_asked(
    stub: Stub,
) -> None:
    tokens, unknown = cache(refused_ttl_s=0.05), token()
    for _ in range(10):
        with pytest.raises(Unauthenticated):
            await tokens.authenticate(unknown, 1, NOW)
    assert len(stub.batches) == 1
    await asyncio.sleep(0.06)
    with pytest.raises(Unauthenticated):
        await tokens.authenticate(unknown, 1, NOW)
    assert len(stub.batches) == 2
    for bad in ("myat_", "myat_short", "myat_" + "!" * 43, "myat_" + "a" * 129):
        with pytest.raises(Unauthenticated):
            await tokens.authenticate(bad, 1, NOW)
    assert len(stub.batches) == 2


async def test_what_is_kept_is_bounded(stub: Stub) -> None:
    tokens = cache(max_valid=3, max_refused=2)
    texts = [valid(stub) for _ in range(5)]
    for text in texts:
        await tokens.authenticate(text, 1, NOW)
    assert len(tokens) == 3
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await tokens.authenticate(token(), 1, NOW)
    assert len(tokens._refused) == 2
    await tokens.authenticate(texts[-1], 1, NOW)  # the newest stayed
    assert len(stub.batches) == 10


async def test_first_uses_arriving_together_share_a_query(stub: Stub) -> None:
    tokens = cache()
    texts = [valid(stub) for _ in range(50)]
    texts += texts[:10]  # the same token twice at once: one answer
    entries = await asyncio.gather(*(tokens.authenticate(t, 1, NOW) for t in texts))
    assert all(e.user_id == USER for e in entries)
    assert len(stub.batches) <= 2
    assert sum(len(b) for b in stub.batches) == 50


async def test_a_flood_of_made_up_tokens_holds_a_few_connections_at_most(stub: Stub) -> None:
    tokens = cache(max_lookups=3, batch=5)
    stub.gate = asyncio.Event()
    calls = [asyncio.ensure_future(tokens.authenticate(token(), 1, NOW)) for _ in range(100)]
    await asyncio.sleep(0.01)
    assert stub.running == 3
    stub.gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, Unauthenticated) for r in results)
    assert stub.most == 3
    assert len(stub.batches) == 20  # 100 hashes, 5 a query


async def test_a_database_failure_reaches_the_callers_and_is_not_kept(stub: Stub) -> None:
    tokens, text = cache(), valid(stub)
    stub.fail = OSError("connection refused")
    results = await asyncio.gather(
        *(tokens.authenticate(text, 1, NOW) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, OSError) for r in results)
    stub.fail = None
    assert (await tokens.authenticate(text, 1, NOW)).user_id == USER


async def test_a_caller_that_leaves_does_not_cancel_the_others(stub: Stub) -> None:
    tokens, text = cache(), valid(stub)
    stub.gate = asyncio.Event()
    leaving = asyncio.ensure_future(tokens.authenticate(text, 1, NOW))
    staying = asyncio.ensure_future(tokens.authenticate(text, 1, NOW))
    await asyncio.sleep(0.01)
    leaving.cancel()
    stub.gate.set()
    assert (await staying).user_id == USER
    assert leaving.cancelled()


async def test_closing_answers_the_waiting_callers(stub: Stub) -> None:
    tokens = cache()
    stub.gate = asyncio.Event()
    waiting = asyncio.ensure_future(tokens.authenticate(valid(stub), 1, NOW))
    await asyncio.sleep(0.01)
    await tokens.close()
    with pytest.raises(NotReady):
        await waiting
