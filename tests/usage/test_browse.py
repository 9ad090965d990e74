"""The usage explorer's reads: calls a page at a time without counting them all (the same
calls, in the same order, as ``events``), and finding a user by email."""

from __future__ import annotations

import pytest

from modelyard.errors import Forbidden, NotFound
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.usage.report import EventFilter, EventPage
from tests.api.usage_rows import NEWEST_FIRST, SAMPLE, insert_rows, sample
from tests.registry.helpers import member


async def test_browse_pages_the_calls_as_events_does(registry: Registry, admin: Actor) -> None:
    alice = await member(registry, admin, "alice")
    bob = await member(registry, admin, "bob")
    users = {"alice": str(alice.user_id), "bob": str(bob.user_id)}
    rows = sample(users)
    await insert_rows(registry.db.engine, rows)
    everyone = await registry.usage.events(admin)
    assert [e.request_id for e in everyone.items] == [rows[i]["request_id"] for i in NEWEST_FIRST]
    seen = []
    for offset in range(0, len(SAMPLE) + 2, 2):
        items, more = await registry.usage.browse(admin, None, EventPage(limit=2, offset=offset))
        seen += items
        assert more == (offset + 2 < len(SAMPLE))
    assert seen == everyone.items
    own, more = await registry.usage.browse(alice, EventFilter(user_id=bob.user_id))
    assert {e.user_id for e in own} == {alice.user_id}
    assert len(own) == 3
    assert not more
    errors, _ = await registry.usage.browse(admin, EventFilter(status="error"))
    assert [e.status for e in errors] == ["error"]


async def test_a_user_by_email(registry: Registry, admin: Actor) -> None:
    alice = await member(registry, admin, "alice")
    await member(registry, admin, "bob")
    found = await registry.users.by_email(admin, "  Alice@EXAMPLE.com ")
    assert found.id == alice.user_id
    with pytest.raises(NotFound):
        await registry.users.by_email(admin, "nobody@example.com")
    with pytest.raises(Forbidden):  # members filter by nobody but themselves
        await registry.users.by_email(alice, "alice@example.com")
