"""An events page at scale: its total (counted from the roll-ups for whole days) equals the
calls counted one by one for random filters, statuses and ranges on both engines; keyset
pages (``before``) walk the same calls as offsets, through ties on the same instant; a call
the caller cannot see, or none at all, is refused by name."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from modelyard.db.tables import UsageEvent
from modelyard.errors import ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.usage.report import EventFilter, EventPage, conditions
from modelyard.usage.writer import UsageWriter
from tests.usage.test_daily import _calls, _member
from tests.usage.test_recorder import usage_record
from tests.usage.test_totals import _instant


async def _counted_one_by_one(registry: Registry, actor: Actor, f: EventFilter) -> int:
    where = conditions(actor, f)
    if f.status is not None:
        where.append(UsageEvent.status == f.status)
    async with registry.db.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).where(*where)) or 0)


async def test_totals_equal_the_calls_counted_one_by_one(registry: Registry, admin: Actor) -> None:
    alice = await _member(registry, admin, "alice@example.com")
    calls = _calls(random.Random(5), [alice.user_id, admin.user_id, None], 600)
    await UsageWriter(registry.db.engine).write([c.to_row() for c in calls])
    rng = random.Random(55)
    nonzero = 0
    for n in range(120):
        since, until = _instant(rng), _instant(rng)
        if since is not None and until is not None and since > until:
            since, until = until, since
        filters: dict[str, Any] = {"since": since, "until": until}
        filters["status"] = rng.choice([None, None, "ok", "error", "aborted"])
        if rng.random() < 0.3:
            filters["user_id"] = rng.choice([alice.user_id, admin.user_id])
        if rng.random() < 0.3:
            filters["model"] = rng.choice(["m-a", "m-c"])
        if rng.random() < 0.3:
            filters["provider"] = "p-1"
        actor = admin if n % 3 else alice
        f = EventFilter(**filters)
        page = await registry.usage.events(actor, f, EventPage(limit=1))
        assert page.total == await _counted_one_by_one(registry, actor, f), f
        nonzero += page.total > 0
    assert nonzero > 60  # the ranges were not all empty


async def test_keyset_pages_walk_the_calls_as_offsets_do(registry: Registry, admin: Actor) -> None:
    at = datetime(2026, 11, 3, 12, tzinfo=UTC)
    rows = [  # ties: five calls at each instant
        usage_record(f"k{n}", occurred_at=at - timedelta(seconds=n // 5), status="ok")
        for n in range(47)
    ]
    await UsageWriter(registry.db.engine).write([r.to_row() for r in rows])
    by_offset = [
        e.id
        for offset in range(0, 47, 10)
        for e in (
            await registry.usage.events(admin, None, EventPage(limit=10, offset=offset))
        ).items
    ]
    by_key: list[Any] = []
    more = True
    while more:
        before = by_key[-1] if by_key else None
        page, more = await registry.usage.browse(admin, None, EventPage(limit=7, before=before))
        by_key += [e.id for e in page]
    assert len(by_offset) == 47
    assert by_key == by_offset
    last = (await registry.usage.events(admin, None, EventPage(limit=3, before=by_key[9]))).items
    assert [e.id for e in last] == by_offset[10:13]


async def test_a_call_the_caller_cannot_see_is_refused_as_a_start(
    registry: Registry, admin: Actor
) -> None:
    alice = await _member(registry, admin, "alice@example.com")
    at = datetime(2026, 11, 3, 12, tzinfo=UTC)
    await UsageWriter(registry.db.engine).write([usage_record("adm", occurred_at=at).to_row()])
    (theirs,) = (await registry.usage.events(admin)).items
    for who, before in ((alice, theirs.id), (admin, alice.user_id)):
        with pytest.raises(ValidationFailed) as refused:
            await registry.usage.events(who, None, EventPage(before=before))
        assert "before" in str(refused.value.to_dict())
