"""The usage explorer without a browser: who sees which calls, every filter, the CSV file,
and what hostile query strings get (an error beside the field or a 404, never a 500)."""

from __future__ import annotations

import csv
import io

import pytest

from modelyard.api.web.console.usage_filters import DEPTH
from modelyard.services import Registry
from tests.api.usage_rows import SAMPLE, insert_rows, sample
from tests.api.web.browser import Browser, text
from tests.api.web.conftest import Person, make_person

EVERYTHING = "/console/usage?range=all"


@pytest.fixture
async def people(registry: Registry) -> tuple[Person, Person, Person]:
    admin = await make_person(registry, role="admin")
    alice = await make_person(registry)
    bob = await make_person(registry)
    await insert_rows(registry.db.engine, sample({"alice": alice.id, "bob": bob.id}))
    return admin, alice, bob


def _rows(html: str) -> int:
    return html.count("<tr>") - 1  # the head's row


async def test_admin_sees_every_call_and_filters_them(
    browser: Browser, people: tuple[Person, Person, Person]
) -> None:
    admin, alice, _bob = people
    await browser.sign_in(admin.email, admin.password)
    page = await browser.get(EVERYTHING)
    assert page.status_code == 200, page.text
    assert _rows(page.text) == len(SAMPLE)
    assert "Calls 1\u20136" in text(page.text)
    assert "0.0000125 USD" in page.text
    mine = await browser.get(f"{EVERYTHING}&user={alice.email.upper()}")
    assert _rows(mine.text) == 3
    by_id = await browser.get(f"{EVERYTHING}&user_id={alice.id}")
    assert _rows(by_id.text) == 3
    assert f'value="{alice.email}"' in by_id.text
    for query, count in (
        ("&model=gpt-4o", 3),
        ("&provider=anthropic", 1),
        ("&status=error", 1),
        ("&status=aborted", 1),
        ("&since=2030-01-02&until=2030-01-02", 3),
        ("&until=2030-01-01", 3),
    ):
        found = await browser.get(EVERYTHING + query)
        assert found.status_code == 200, (query, found.text)
        assert _rows(found.text) == count, query


async def test_a_member_sees_only_their_own_calls(
    browser: Browser, people: tuple[Person, Person, Person]
) -> None:
    _admin, alice, bob = people
    await browser.sign_in(alice.email, alice.password)
    page = await browser.get(EVERYTHING)
    assert _rows(page.text) == 3
    assert bob.email not in page.text
    assert 'name="user"' not in page.text
    ignored = await browser.get(f"{EVERYTHING}&user={bob.email}")
    assert _rows(ignored.text) == 3  # members have no user filter: always their own
    assert (await browser.get(f"{EVERYTHING}&user_id={alice.id}")).status_code == 200
    other = await browser.get(f"{EVERYTHING}&user_id={bob.id}")
    assert other.status_code == 404
    assert "Not found" in other.text
    exported = await browser.get("/console/usage/export?range=all")
    lines = list(csv.DictReader(io.StringIO(exported.text)))
    assert {line["user_email"] for line in lines} == {alice.email}


BAD_FILTERS = [  # query, the field named, what it says
    ("since=2030-13-01", "since", "Enter a date as YYYY-MM-DD."),
    ("until=yesterday", "until", "Enter a date as YYYY-MM-DD."),
    ("since=2030-01-02&until=2030-01-01", "until", "must not be before the start"),
    ("since=0001-01-01", "since", "between the years 1 and 9999"),
    ("user=nobody@example.com", "user", "No user has this email address."),
    ("model=a%00b", "model", "NUL character"),
    ("provider=" + "p" * 65, "provider", "at most 64 characters"),
    ("status=exploded", "status", "Choose one of ok, error, aborted."),
    ("range=1y", "range", "Choose one of the periods listed."),
    ("range=custom", "range", "Enter a From or To day, or choose another period."),
]


async def test_bad_filters_are_named_beside_their_field(
    browser: Browser, people: tuple[Person, Person, Person]
) -> None:
    admin = people[0]
    await browser.sign_in(admin.email, admin.password)
    for query, field, message in BAD_FILTERS:
        page = await browser.get(f"/console/usage?{query}")
        assert page.status_code == 422, (query, page.text)
        assert f'id="error-{field}"' in page.text, query
        assert message in page.text, query
        assert "No calls are shown." in page.text
        assert "<tbody>" not in page.text
        export = await browser.get(f"/console/usage/export?{query}")
        assert export.status_code == 422
        assert export.headers["content-type"].startswith("text/html")


async def test_garbage_user_ids_and_offsets(
    browser: Browser, people: tuple[Person, Person, Person]
) -> None:
    admin = people[0]
    await browser.sign_in(admin.email, admin.password)
    for user_id in ("garbage", "00000000-0000-0000-0000-000000000000", "%00", "1" * 5000):
        page = await browser.get(f"/console/usage?user_id={user_id}")
        assert page.status_code == 404, user_id
        assert "Not found" in page.text
    for offset in ("-1", "abc", "9" * 30, "\uff11", "%00"):
        page = await browser.get(f"{EVERYTHING}&offset={offset}")
        assert page.status_code == 422, offset
        assert "does not exist" in page.text


async def test_pages_past_the_end_or_too_deep(
    browser: Browser, people: tuple[Person, Person, Person]
) -> None:
    admin = people[0]
    await browser.sign_in(admin.email, admin.password)
    page = await browser.get(f"{EVERYTHING}&offset=50")
    assert page.status_code == 200, page.text
    assert "No calls on this page" in page.text
    for deep in (DEPTH, 2**63 - 1, 2**64):
        page = await browser.get(f"{EVERYTHING}&offset={deep}")
        assert page.status_code == 422
        assert "narrow the period" in page.text or "does not exist" in page.text


async def test_the_csv_holds_the_filtered_calls(
    browser: Browser, people: tuple[Person, Person, Person]
) -> None:
    admin, alice, _bob = people
    await browser.sign_in(admin.email, admin.password)
    page = await browser.get(f"/console/usage?since=2030-01-01&until=2030-01-02&user={alice.email}")
    assert 'href="/console/usage/export?range=custom&amp;since=2030-01-01' in page.text
    answer = await browser.get(
        f"/console/usage/export?since=2030-01-01&until=2030-01-02&user={alice.email}"
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    disposition = answer.headers["content-disposition"]
    assert disposition == 'attachment; filename="modelyard-usage-2030-01-01-to-2030-01-02.csv"'
    lines = list(csv.DictReader(io.StringIO(answer.text)))
    assert [line["cost"] for line in lines] == ["0.003", "0.0000025", "0.0000125"]


async def test_signed_out_the_explorer_asks_to_sign_in(browser: Browser) -> None:
    for path in ("/console/usage?range=all", "/console/usage/export"):
        answer = await browser.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")
