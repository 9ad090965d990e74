"""The dashboard in a real browser, after real calls through the gateway: its tiles, its
table by day, its charts' titles and its top tables hold the figures of /api/v1/usage for
the same days (admin: everyone's; member: their own), the ranges switch, the charts answer
the keyboard, a user without calls sees the empty state; accessible, and fits a phone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.console.calls import MODEL, Calls, make_calls
from tests.console.conftest import Tabs, axe_clean, no_overflow
from tests.support.console_site import Person, Site

CALLS = Calls(member_ok=4, member_failed=2, admin_ok=1)
GRANT = "50"


@pytest.fixture(scope="module", autouse=True)
def called(site: Site) -> None:
    make_calls(site, CALLS)
    site.api(
        "POST", "/api/v1/credits/grants", json={"user_id": site.member.user_id, "amount": GRANT}
    )


def _usage(site: Site, days: int, key: str | None = None, group_by: str = "day") -> Any:
    today = datetime.now(UTC).date()
    since = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), UTC)
    until = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
    params = {"since": since.isoformat(), "until": until.isoformat(), "group_by": group_by}
    return site.api("GET", "/api/v1/usage", key=key, params=params).json()


def _amount(text: str) -> Decimal:
    return Decimal(text.split(maxsplit=1)[0].replace(",", ""))


def _tile(tab: Page, label: str) -> str:
    tile = tab.locator(".tile").filter(has=tab.locator("p.label", has_text=label))
    return tile.locator("p.value").inner_text()


def _same_as_the_api(tab: Page, site: Site, key: str | None, days: int = 30) -> None:
    by_day = _usage(site, days, key)
    calls = sum(t["calls"] for t in by_day)
    assert calls > 0
    assert _tile(tab, "Calls") == f"{calls:,}"
    tokens = sum(t["prompt_tokens"] + t["completion_tokens"] for t in by_day)
    assert _tile(tab, "Tokens") == f"{tokens:,}"
    spend = sum((Decimal(t["cost"]) for t in by_day if t["currency"] == "USD"), Decimal(0))
    assert _amount(_tile(tab, "Spend")) == spend
    errors = sum(t["errors"] for t in by_day)
    assert _tile(tab, "Error rate") == f"{Decimal(errors * 100) / Decimal(calls):.1f} %"
    tab.get_by_text("The figures by day as a table").click()
    table = tab.get_by_role("region", name="Usage by day")
    for t in by_day:
        row = table.get_by_role("row").filter(has=tab.get_by_role("rowheader", name=t["day"]))
        cells = row.get_by_role("cell").all_inner_texts()
        assert _amount(cells[0]) == Decimal(t["cost"])
        assert cells[1:5] == [
            f"{t['calls']:,}",
            f"{t['errors']:,}",
            f"{t['prompt_tokens']:,}",
            f"{t['completion_tokens']:,}",
        ]
        title = tab.locator("#svg-calls g.day title", has_text=t["day"])
        expect(title).to_have_text(f"{t['day']}: {t['calls']} call{'s' if t['calls'] != 1 else ''}")
    expect(table.get_by_role("row")).to_have_count(days + 1)
    top = tab.get_by_role("region", name="Models")
    for t in _usage(site, days, key, "model"):
        row = top.get_by_role("row").filter(has=tab.get_by_role("rowheader", name=t["model"]))
        assert _amount(row.get_by_role("cell").first.inner_text()) == Decimal(t["cost"])


def test_admin_sees_everyones_figures(admin_page: Page, site: Site) -> None:
    admin_page.goto("/console")
    expect(admin_page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(admin_page.get_by_role("link", name="30 days")).to_have_attribute("aria-current", "true")
    _same_as_the_api(admin_page, site, None)
    users = admin_page.get_by_role("region", name="Users")
    expect(users.get_by_role("link", name=site.member.email)).to_be_visible()
    expect(users.get_by_role("link", name=site.admin.email)).to_be_visible()
    balances = admin_page.get_by_role("region", name="Current balances of the top users")
    member_row = balances.get_by_role("row").filter(has_text=site.member.email)
    expect(member_row.get_by_role("cell")).to_have_text("50.00")
    axe_clean(admin_page)


def test_ranges_switch_and_the_charts_answer_the_keyboard(admin_page: Page, site: Site) -> None:
    admin_page.goto("/console")
    for days in (7, 90, 30):
        admin_page.get_by_role("link", name=f"{days} days").click()
        expect(admin_page).to_have_url(f"{site.base}/console?days={days}")
        expect(admin_page.get_by_role("link", name=f"{days} days")).to_have_attribute(
            "aria-current", "true"
        )
        expect(admin_page.locator("#svg-calls g.day")).to_have_count(days)
        expect(admin_page.locator("#svg-tokens g.day")).to_have_count(days)
    chart = admin_page.get_by_role("img", name="Calls per day", exact=False)
    chart.focus()
    admin_page.keyboard.press("End")
    today = datetime.now(UTC).date().isoformat()
    readout = admin_page.locator("#chart-calls .readout")
    expect(readout).to_have_text(f"{today}: {CALLS.total} calls")
    admin_page.keyboard.press("ArrowLeft")
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    expect(readout).to_have_text(f"{yesterday}: 0 calls")


def test_a_member_sees_only_their_own(member_page: Page, site: Site) -> None:
    member_page.goto("/console")
    made = site.api(
        "POST",
        "/api/v1/keys",
        json={"name": "reads", "user_id": site.member.user_id, "scopes": ["registry.read"]},
    )
    _same_as_the_api(member_page, site, made.json()["key"])
    assert _tile(member_page, "Calls") == f"{CALLS.member_ok + CALLS.member_failed:,}"
    expect(member_page.get_by_role("region", name="Users")).to_have_count(0)
    expect(member_page.locator("main").get_by_text(site.admin.email)).to_have_count(0)
    expect(
        member_page.get_by_role("region", name="Models").get_by_role("link", name=MODEL)
    ).to_be_visible()
    facts = member_page.locator("dl.facts")
    expect(facts).to_contain_text(f"Available{GRANT}.00 credits")
    axe_clean(member_page)


def test_no_calls_shows_the_empty_state(tabs: Tabs, site: Site) -> None:
    made = site.api(
        "POST", "/api/v1/users", json={"email": "fresh@example.com", "role": "member"}
    ).json()
    password = "a fresh member passphrase 1"
    site.api("PUT", f"/api/v1/users/{made['id']}/password", json={"password": password})
    tab = tabs.open(Person(made["email"], password, made["id"], "member"))
    tab.goto("/console")
    expect(tab.get_by_text("No calls in the last 30 days.")).to_be_visible()
    expect(tab.locator("svg.chart")).to_have_count(0)
    tab.get_by_role("link", name="7 days").click()
    expect(tab.get_by_text("No calls in the last 7 days.")).to_be_visible()
    axe_clean(tab)


def test_phone_width_fits(phone: Callable[[Person], Page], site: Site) -> None:
    for person in (site.admin, site.member):
        tab = phone(person)
        tab.goto("/console?days=90")
        expect(tab.locator("#svg-calls")).to_be_visible()
        no_overflow(tab)
