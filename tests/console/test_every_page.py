"""Every console page a person can reach, found by following links rather than listed by
hand: from each navigation entry, and from each list to the detail pages and forms it links
to. As an admin and as a member, each page answers 200, passes axe-core (no serious or
critical violation) at laptop width and fits a phone's width; a member's links never lead
to a page that answers 404 (the navigation offers only their own areas)."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page

from tests.console.calls import Calls, make_calls
from tests.console.conftest import axe_clean, no_overflow
from tests.support.console_site import Person, Site

HREF = re.compile(r'href="(/console[^"#]*)"')
DETAIL_PER_LIST = 2  # detail pages followed from each list
LEAVE_OUT = ("/export",)  # downloads, not pages


def _seed(site: Site) -> None:
    make_calls(site, Calls(member_ok=2, member_failed=1, admin_ok=1))
    site.api("POST", "/api/v1/plans", json={"name": "team", "monthly_credits": "100"})
    site.api(
        "POST",
        "/api/v1/credits/grants",
        json={"user_id": site.member.user_id, "amount": "5", "reason": "welcome"},
    )
    site.key_for(site.member, "member laptop")


def _crawl(tab: Page) -> list[str]:
    """The console pages reachable from the navigation: each entry, then the first
    ``DETAIL_PER_LIST`` console links of each entry's page that lead somewhere new."""
    tab.goto("/console")
    entries = [
        str(link.get_attribute("href"))
        for link in tab.get_by_role("navigation", name="Console").get_by_role("link").all()
    ]
    seen: list[str] = []
    for entry in entries:
        if entry in seen:
            continue
        seen.append(entry)
        tab.goto(entry)
        found = 0
        for href in HREF.findall(tab.content()):
            path = href.replace("&amp;", "&")
            if path in seen or path in entries or any(x in path for x in LEAVE_OUT):
                continue
            if found < DETAIL_PER_LIST and path.startswith(entry + "/"):
                seen.append(path)
                found += 1
    return seen


def _visit_all(tab: Page, phone_tab: Page, person: Person) -> list[str]:
    pages = _crawl(tab)
    for path in pages:
        answer = tab.goto(path)
        assert answer is not None
        assert answer.status == 200, f"{person.role} {path}: {answer.status}"
        axe_clean(tab)
        phone_tab.goto(path)
        no_overflow(phone_tab)
    return pages


def test_every_page_as_admin_and_member(
    admin_page: Page, member_page: Page, phone: Callable[[Person], Page], site: Site
) -> None:
    _seed(site)
    admin_pages = _visit_all(admin_page, phone(site.admin), site.admin)
    member_pages = _visit_all(member_page, phone(site.member), site.member)
    # Every area and some of their detail pages and forms were reached.
    assert len([p for p in admin_pages if p.count("/") == 2]) >= 12, admin_pages
    assert len(admin_pages) >= 25, admin_pages
    assert {"/console", "/console/keys", "/console/usage", "/console/credits"} <= set(member_pages)
    assert not any(p.startswith(("/console/users", "/console/audit")) for p in member_pages)
