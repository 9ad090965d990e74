"""The dashboard without a browser: the figures of the days written (through the real
usage writer, which keeps the daily roll-ups), every day present, members' own figures
only, ranges, and the charts' SVG with a title per day."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from modelyard.services import Registry
from modelyard.usage.writer import UsageWriter
from tests.api.web.browser import Browser, text
from tests.api.web.conftest import Person, make_person
from tests.usage.test_recorder import usage_record


@pytest.fixture
async def people(registry: Registry) -> tuple[Person, Person, Person]:
    admin = await make_person(registry, role="admin")
    alice = await make_person(registry)
    bob = await make_person(registry)
    now = datetime.now(UTC)
    calls = [
        # who, days ago, model, status, prompt, completion, cost, latency
        (alice, 0, "m-a", "ok", 100, 50, "0.0000125", 200),
        (alice, 0, "m-a", "error", 10, 0, "0.0000025", 400),
        (alice, 3, "m-b", "ok", 1000, 500, "0.25", 300),
        (bob, 1, "m-a", "ok", 7, 3, "1.5", 1000),
        (bob, 40, "m-c", "ok", 1, 1, "100", 10),  # only in the 90 days
    ]
    records = [
        usage_record(
            f"dash-{i}",
            occurred_at=now - timedelta(days=ago),
            user_id=uuid.UUID(who.id),
            model_name=model,
            provider_name="prov",
            status=status,
            prompt_tokens=prompt,
            completion_tokens=completion,
            latency_ms=latency,
            currency="USD",
            cost=Decimal(cost),
        )
        for i, (who, ago, model, status, prompt, completion, cost, latency) in enumerate(calls)
    ]
    refused, stored = await UsageWriter(registry.db.engine).write([r.to_row() for r in records])
    assert refused == []
    assert len(stored) == len(records)
    return admin, alice, bob


def _titles(html: str) -> list[str]:
    return re.findall(r"<title>([^<]*)</title>", html)


async def test_admin_figures_and_ranges(
    browser: Browser, people: tuple[Person, Person, Person]
) -> None:
    admin, alice, bob = people
    await browser.sign_in(admin.email, admin.password)
    page = await browser.get("/console")
    assert page.status_code == 200, page.text
    words = text(page.text)
    assert "1.7500150 USD" in words or "1.750015 USD" in words
    assert "Calls 4" in words
    assert "Error rate 25.0 %" in words
    assert "Average latency 475 ms" in words  # (200 + 400 + 300 + 1000) / 4
    today = datetime.now(UTC).date()
    titles = _titles(page.text)
    assert f"{today.isoformat()}: 2 calls" in titles
    assert f"{(today - timedelta(days=2)).isoformat()}: 0 calls" in titles
    assert sum(1 for t in titles if t.endswith(" calls") or t.endswith(" call")) == 30
    assert alice.email in page.text
    assert bob.email in page.text
    assert page.text.count('<tr><th scope="row">') >= 2
    quarter = await browser.get("/console?days=90")
    assert "Calls 5" in text(quarter.text)
    week = await browser.get("/console?days=7")
    assert sum(1 for t in _titles(week.text) if " call" in t) == 7
    for junk in ("abc", "-1", "7%00", "9" * 40):
        odd = await browser.get(f"/console?days={junk}")
        assert odd.status_code == 200
        assert 'aria-current="true">30 days' in odd.text


async def test_a_member_sees_only_their_own(
    browser: Browser, people: tuple[Person, Person, Person]
) -> None:
    _admin, alice, bob = people
    await browser.sign_in(alice.email, alice.password)
    page = await browser.get("/console")
    words = text(page.text)
    assert "Calls 3" in words
    assert "0.250015 USD" in words
    assert bob.email not in page.text
    assert 'id="top-users"' not in page.text
    assert "Available" in words


async def test_no_calls_says_so(browser: Browser, registry: Registry) -> None:
    carol = await make_person(registry)
    await browser.sign_in(carol.email, carol.password)
    page = await browser.get("/console?days=7")
    assert page.status_code == 200
    assert "No calls in the last 7 days." in page.text
    assert "<svg" not in page.text
