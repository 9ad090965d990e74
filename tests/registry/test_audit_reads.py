"""Reading the audit trail as the console does: one event by number, the filters' choices,
and "who acted" by email, id or operator label (on both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, text, update

from modelyard.db.tables import AuditEvent
from modelyard.errors import Forbidden, NotFound
from modelyard.registry.actors import Actor
from modelyard.registry.audit_log import AuditFilter
from modelyard.registry.common import PageRequest
from modelyard.services import Registry
from tests.registry.helpers import ALL, member, ollama


async def test_one_event_by_its_number(registry: Registry, admin: Actor) -> None:
    made = await registry.providers.create(admin, ollama("local"))
    [newest] = (await registry.audit.list(admin, PageRequest(limit=1))).items
    event = await registry.audit.get(admin, newest.id)
    assert event == newest
    assert (event.action, event.entity_id) == ("provider.create", str(made.id))


@pytest.mark.parametrize("number", [0, -1, 10**6, 2**63 - 1, 2**63, 10**40])
async def test_a_number_no_event_has_is_not_found(
    registry: Registry, admin: Actor, number: int
) -> None:
    with pytest.raises(NotFound) as caught:
        await registry.audit.get(admin, number)
    assert caught.value.code == "AUDIT_EVENT_NOT_FOUND"


async def test_members_read_no_event(registry: Registry, admin: Actor) -> None:
    alice = await member(registry, admin)
    [newest] = (await registry.audit.list(admin, PageRequest(limit=1))).items
    for read in (
        registry.audit.get(alice, newest.id),
        registry.audit.choices(alice),
        registry.audit.list(alice, ALL),
    ):
        with pytest.raises(Forbidden):
            await read


async def test_choices_are_the_recorded_actions_and_types(registry: Registry, admin: Actor) -> None:
    await member(registry, admin)
    await registry.providers.create(admin, ollama("local"))
    choices = await registry.audit.choices(admin)
    assert {"user.create", "api_key.create", "provider.create"} <= set(choices.actions)
    assert choices.actions == sorted(set(choices.actions))
    assert {"user", "api_key", "provider"} <= set(choices.entity_types)
    assert choices.entity_types == sorted(set(choices.entity_types))


async def test_who_acted_by_email_id_or_label(registry: Registry, admin: Actor) -> None:
    alice = await member(registry, admin)
    await registry.providers.create(alice, ollama("hers"))
    await registry.providers.create(Actor.operator(), ollama("operators"))

    async def actions(who: str) -> list[str]:
        page = await registry.audit.list(admin, ALL, AuditFilter(actor=who))
        return [e.action + ":" + str((e.after or {}).get("name", "")) for e in page.items]

    assert await actions("alice@example.com") == ["provider.create:hers"]
    assert await actions("ALICE@Example.com") == ["provider.create:hers"]
    assert await actions(str(alice.user_id)) == ["provider.create:hers"]
    assert await actions("cli") == ["provider.create:operators"]
    assert await actions("nobody@example.com") == []
    assert "user.create:" in await actions("admin@example.com")


async def test_browse_goes_back_slice_by_slice(registry: Registry, admin: Actor) -> None:
    for number in range(5):
        await registry.providers.create(admin, ollama(f"p{number}"))
    everything = (await registry.audit.list(admin, ALL)).items
    only = AuditFilter(action="provider.create")
    first = await registry.audit.browse(admin, only, limit=2)
    assert [e.after["name"] for e in first.items] == ["p4", "p3"]
    assert first.older == first.items[-1].id
    second = await registry.audit.browse(admin, only, before=first.older, limit=2)
    assert [e.after["name"] for e in second.items] == ["p2", "p1"]
    last = await registry.audit.browse(admin, only, before=second.older, limit=2)
    assert [e.after["name"] for e in last.items] == ["p0"]
    assert last.older is None
    unfiltered = await registry.audit.browse(admin, AuditFilter(), limit=500)
    assert unfiltered.items == everything
    assert unfiltered.older is None


@pytest.mark.parametrize("before", [0, 1, 2**63 - 1, 2**63, 10**30])
async def test_browse_before_any_number(registry: Registry, admin: Actor, before: int) -> None:
    found = await registry.audit.browse(admin, AuditFilter(), before=before, limit=3)
    assert all(e.id < before for e in found.items)
    assert (found.items == []) == (before <= 1)


async def test_inspect_names_what_is_wrong_with_one_event(registry: Registry, admin: Actor) -> None:
    for number in range(3):
        await registry.providers.create(admin, ollama(f"p{number}"))
    page = await registry.audit.list(admin, PageRequest(limit=3))
    newest, middle, oldest = (e.id for e in page.items)
    for event_id in (newest, middle, oldest):
        assert (await registry.audit.inspect(admin, event_id))[1] is None

    async with registry.db.engine.begin() as conn:
        if registry.db.is_postgres:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(
            update(AuditEvent).where(AuditEvent.id == middle).values(after={"forged": True})
        )
    event, problem = await registry.audit.inspect(admin, middle)
    assert event.after == {"forged": True}
    assert problem == "content does not match its hash"
    assert (await registry.audit.inspect(admin, newest))[1] is None  # its link is intact
    report = await registry.audit.verify(admin)
    assert (report.broken_at, report.reason) == (middle, problem)

    async with registry.db.engine.begin() as conn:
        if registry.db.is_postgres:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(delete(AuditEvent).where(AuditEvent.id == middle))
    assert (await registry.audit.inspect(admin, newest))[1] == (
        "does not link to the event before it"
    )
