"""The usage explorer in a real browser, after real calls through the gateway: an admin sees
everyone's calls with their tokens and cost and filters them, a member only their own; the
CSV download holds the page's calls; bad filters are named beside their field; garbage and
other people's ids are not found; the page is accessible and fits a phone."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.console.calls import BROKEN, MODEL, PROVIDER, Calls, events, make_calls
from tests.console.conftest import axe_clean, no_overflow
from tests.support.console_site import Person, Site

CALLS = Calls(member_ok=3, member_failed=1, admin_ok=1)
COST = "0.000111 USD"  # 12 prompt tokens at 3 and 5 completion tokens at 15 per million


@pytest.fixture(scope="module", autouse=True)
def called(site: Site) -> None:
    make_calls(site, CALLS)


def _rows(tab: Page) -> list[str]:
    """The request ids of the calls listed, top to bottom."""
    return tab.locator("table.usage-calls tbody tr td:last-child").all_inner_texts()


def test_admin_sees_every_call_and_filters_them(admin_page: Page, site: Site) -> None:
    admin_page.goto("/console/usage")
    expect(admin_page.get_by_role("heading", level=1)).to_have_text("Usage")
    recorded = events(site)["items"]
    assert _rows(admin_page) == [e["request_id"] for e in recorded]
    table = admin_page.locator("table.usage-calls")
    expect(table.get_by_role("cell", name=site.member.email).first).to_be_visible()
    expect(table.get_by_role("cell", name=COST).first).to_be_visible()
    expect(table.get_by_role("cell", name="12", exact=True).first).to_be_visible()
    axe_clean(admin_page)

    admin_page.get_by_label("Model").fill(MODEL)
    admin_page.get_by_role("button", name="Show calls").click()
    expect(admin_page.locator("table.usage-calls tbody tr")).to_have_count(CALLS.total - 1)
    expect(admin_page.get_by_label("Model")).to_have_value(MODEL)

    admin_page.get_by_label("Model").fill("")
    admin_page.get_by_label("Status").select_option("error")
    admin_page.get_by_role("button", name="Show calls").click()
    expect(admin_page.locator("table.usage-calls tbody tr")).to_have_count(CALLS.member_failed)
    expect(table.get_by_text("error", exact=True)).to_be_visible()
    expect(table.get_by_role("cell", name=BROKEN)).to_be_visible()

    admin_page.get_by_label("Status").select_option("")
    admin_page.get_by_label("User email").fill(site.admin.email)
    admin_page.get_by_label("Provider").fill(PROVIDER)
    admin_page.get_by_role("button", name="Show calls").click()
    expect(admin_page.locator("table.usage-calls tbody tr")).to_have_count(CALLS.admin_ok)


def test_a_member_sees_only_their_own_calls(member_page: Page, site: Site) -> None:
    member_page.goto("/console/usage")
    own = events(site, user_id=site.member.user_id)["items"]
    assert _rows(member_page) == [e["request_id"] for e in own]
    assert len(own) == CALLS.member_ok + CALLS.member_failed
    expect(member_page.get_by_label("User email")).to_have_count(0)
    expect(member_page.get_by_role("columnheader", name="User")).to_have_count(0)
    expect(member_page.locator("main").get_by_text(site.admin.email)).to_have_count(0)
    axe_clean(member_page)
    answer = member_page.goto(f"/console/usage?user_id={site.admin.user_id}")
    assert answer is not None
    assert answer.status == 404
    expect(member_page.get_by_text("Not found")).to_be_visible()


def test_the_csv_holds_the_calls_on_the_page(admin_page: Page, tmp_path: Path) -> None:
    admin_page.goto(f"/console/usage?model={MODEL}")
    listed = _rows(admin_page)
    with admin_page.expect_download() as download:
        admin_page.get_by_role("link", name="Download CSV").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("modelyard-usage-")
    assert saved.suffix == ".csv"
    with saved.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["request_id"] for r in rows] == listed
    assert {r["model"] for r in rows} == {MODEL}
    assert {r["cost"] for r in rows} == {"0.000111"}
    expect(admin_page.get_by_text("the newest 5,000 calls")).to_be_visible()


def test_bad_filters_are_named_beside_their_field(admin_page: Page, site: Site) -> None:
    admin_page.goto("/console/usage")
    admin_page.get_by_label("From (day)").fill("2026-12-05")
    admin_page.get_by_label("To (day, included)").fill("2026-12-01")
    admin_page.get_by_label("User email").fill("nobody@example.com")
    admin_page.get_by_role("button", name="Show calls").click()
    expect(admin_page.locator("#error-until")).to_have_text(
        "The end date must not be before the start date."
    )
    expect(admin_page.get_by_label("To (day, included)")).to_have_attribute("aria-invalid", "true")
    expect(admin_page.locator("#error-user")).to_have_text("No user has this email address.")
    expect(admin_page.get_by_role("alert")).to_contain_text("No calls are shown.")
    expect(admin_page.locator("table.usage-calls")).to_have_count(0)
    axe_clean(admin_page)
    for path in ("/console/usage?user_id=garbage", "/console/usage?user_id=%00"):
        answer = admin_page.goto(path)
        assert answer is not None
        assert answer.status == 404
        expect(admin_page.get_by_text("Not found")).to_be_visible()
    answer = admin_page.goto("/console/usage?offset=99999999999999999999999")
    assert answer is not None
    assert answer.status == 422


def test_phone_width_fits(phone: Callable[[Person], Page], site: Site) -> None:
    for person in (site.admin, site.member):
        tab = phone(person)
        tab.goto("/console/usage")
        expect(tab.locator("table.usage-calls")).to_be_visible()
        no_overflow(tab)
