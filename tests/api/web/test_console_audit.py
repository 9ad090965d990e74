"""The console's audit trail without a browser, on both databases: admins only (404 to
members), Verify the chain through the page's own form (its CSRF token required), and
hostile ids and filters answered with a 4xx page, never a 500."""

from __future__ import annotations

import pytest

from modelyard.services import Registry
from tests.api.web.browser import Browser, text
from tests.api.web.conftest import Person, make_person


@pytest.fixture
async def admin_browser(browser: Browser, registry: Registry) -> Browser:
    admin = await make_person(registry, role="admin")
    await browser.sign_in(admin.email, admin.password)
    return browser


async def test_members_find_no_audit_pages(browser: Browser, person: Person) -> None:
    await browser.sign_in(person.email, person.password)
    for path in ("/console/audit", "/console/audit/1", "/console/audit?before=5"):
        answer = await browser.get(path)
        assert answer.status_code == 404, path
        assert "Not found" in answer.text
    refused = await browser.client.post(
        "/console/audit/verify", data={"x": "1"}, headers={"Origin": browser.origin}
    )
    assert refused.status_code in (403, 404)


async def test_verify_through_the_pages_form(admin_browser: Browser) -> None:
    page = await admin_browser.get("/console/audit")
    assert page.status_code == 200
    done = await admin_browser.submit(page, "/console/audit/verify")
    assert done.status_code == 200
    assert "Chain intact" in text(done.text)
    partial = await admin_browser.client.post(
        "/console/audit/verify",
        data={"csrf_token": _token(page.text)},
        headers={"Origin": admin_browser.origin, "X-Partial": "1"},
    )
    assert partial.status_code == 200
    assert "Chain intact" in partial.text
    assert "<html" not in partial.text


def _token(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


async def test_verify_needs_the_token(admin_browser: Browser) -> None:
    page = await admin_browser.get("/console/audit")
    for data in ({"x": "1"}, {"csrf_token": "forged"}):
        answer = await admin_browser.client.post(
            "/console/audit/verify", data=data, headers={"Origin": admin_browser.origin}
        )
        assert answer.status_code == 403, data
    nul = await admin_browser.submit(page, "/console/audit/verify", {"x": "a\x00b"})
    assert nul.status_code == 400


@pytest.mark.parametrize(
    "ident", ["abc", "0", "-1", "1.0", "99999999", "9" * 19, "9" * 5000, "%00", "%D9%A1"]
)
async def test_ids_no_event_has(admin_browser: Browser, ident: str) -> None:
    answer = await admin_browser.get(f"/console/audit/{ident}")
    assert answer.status_code == 404
    assert "Not found" in answer.text


@pytest.mark.parametrize(
    "query",
    [
        "since=tomorrow",
        "until=2026-13-01",
        "since=2026-12-05&until=2026-12-04",
        "actor=%00",
        "action=" + "a" * 65,
        "entity_type=" + "t" * 33,
        "entity_id=" + "x" * 65,
        "actor=" + "p" * 321,
        "before=-3",
        "before=" + "9" * 5000,
        "before=%D9%A1",
    ],
)
async def test_filters_that_cannot_be_used(admin_browser: Browser, query: str) -> None:
    answer = await admin_browser.get(f"/console/audit?{query}")
    assert answer.status_code == 422, answer.text[:300]
    assert "Correct the filters above" in text(answer.text)


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01&until=9999-12-31",
        "since=0001-01-02&until=9999-12-30",
        "before=9223372036854775807",
        "before=1",
    ],
)
async def test_extreme_but_usable_filters(admin_browser: Browser, query: str) -> None:
    answer = await admin_browser.get(f"/console/audit?{query}")
    assert answer.status_code == 200, answer.text[:300]
