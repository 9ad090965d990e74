"""The console's frame in a real browser: no page without signing in (back to the page
after), navigation by role (members have no admin pages, which answer 404), no request
leaves 127.0.0.1, the layout fits a phone, and axe-core finds nothing serious."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Tabs, axe_clean, no_overflow, sign_in
from tests.support.console_site import Person, Site

ADMIN_ONLY = ("Models", "Infrastructure", "Users", "OAuth clients", "Plans", "Audit trail")


def test_signed_out_goes_to_sign_in_and_comes_back(tabs: Tabs, site: Site) -> None:
    tab = tabs.open(None)
    tab.goto("/console")
    expect(tab).to_have_url(f"{site.base}/login?next=%2Fconsole")
    sign_in(tab, site.member)
    expect(tab.get_by_role("heading", level=1)).to_have_text("Dashboard")


def test_admin_sees_every_area(admin_page: Page) -> None:
    admin_page.goto("/console")
    nav = admin_page.get_by_role("navigation", name="Console")
    for label in ADMIN_ONLY:
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    expect(nav.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
    axe_clean(admin_page)


def test_member_sees_only_their_areas(member_page: Page, site: Site) -> None:
    member_page.goto("/console")
    nav = member_page.get_by_role("navigation", name="Console")
    for label in ADMIN_ONLY:
        expect(nav.get_by_role("link", name=label)).to_have_count(0)
    for label in ("Dashboard", "Providers", "API keys", "Credits", "Usage"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    axe_clean(member_page)


def test_console_pages_send_their_policy(site: Site) -> None:
    answer = httpx.get(f"{site.base}/console", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fconsole"
    script = httpx.get(f"{site.base}/static/console.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")


def test_phone_width_fits(phone: Callable[[Person], Page], site: Site) -> None:
    for person in (site.admin, site.member):
        tab = phone(person)
        tab.goto("/console")
        expect(tab.get_by_role("heading", level=1)).to_be_visible()
        no_overflow(tab)
