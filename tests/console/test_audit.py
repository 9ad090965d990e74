"""The audit trail in a real browser: a change's event with its diff (old → new), filters,
one event in full, "Verify the chain" (intact), no secret on any page after a provider's
key is rotated, 404 to members, and bad filters or ids answered with a page that names the
problem (never a 500)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import axe_clean, no_overflow
from tests.support.console_site import Person, Site

RETRY = "gateway.retry"
OLD_KEY = "sk-audit-old-0123456789abcdefOLDK"
NEW_KEY = "sk-audit-new-0123456789abcdefNEWK"


def _set_retry(site: Site, attempts: int) -> None:
    value = {"max_attempts": attempts, "base_delay_ms": 500, "max_delay_ms": 8000}
    site.api("PUT", f"/api/v1/settings/{RETRY}", json={"value": value})


def _status(tab: Page, path: str) -> int:
    answer = tab.goto(path)
    assert answer is not None
    return answer.status


def _filter_by_action(tab: Page, action: str) -> None:
    tab.goto("/console/audit")
    tab.get_by_label("Action").fill(action)
    tab.get_by_role("button", name="Filter").click()
    tab.wait_for_url(lambda url: f"action={action}" in url)


def test_a_setting_change_shows_as_old_to_new(admin_page: Page, site: Site) -> None:
    _set_retry(site, 5)
    _set_retry(site, 7)
    _filter_by_action(admin_page, "setting.set")
    newest = admin_page.get_by_role("listitem").filter(has_text="setting.set").first
    expect(newest.get_by_role("heading", level=3)).to_contain_text("setting.set")
    expect(newest).to_contain_text(RETRY)
    row = newest.get_by_role("row", name="max_attempts")
    expect(row.get_by_role("cell")).to_have_text(["5", "7"])
    # only what changed: the delays stayed as they were
    expect(newest.get_by_role("row", name="base_delay_ms")).to_have_count(0)
    newest.get_by_text("Full before and after").click()
    expect(newest.locator("pre").first).to_contain_text('"base_delay_ms": 500')
    expect(admin_page.get_by_role("heading", name="Events")).to_be_visible()
    axe_clean(admin_page)

    newest.get_by_role("link", name="setting.set").click()
    expect(admin_page.get_by_role("heading", level=1)).to_contain_text("setting.set")
    expect(admin_page.get_by_role("row", name="max_attempts").get_by_role("cell")).to_have_text(
        ["5", "7"]
    )
    expect(admin_page.get_by_text(RETRY).first).to_be_visible()
    axe_clean(admin_page)


def test_filters_narrow_the_list(admin_page: Page, site: Site) -> None:
    _set_retry(site, 3)
    admin_page.goto(f"/console/audit?entity_type=setting&entity_id={RETRY}")
    events = admin_page.locator("li.event")
    expect(events.first).to_be_visible()
    for text in events.all_inner_texts():
        assert RETRY in text
    admin_page.goto("/console/audit?actor=nobody@example.com")
    expect(admin_page.get_by_text("No event matches these filters.")).to_be_visible()
    admin_page.goto(f"/console/audit?actor={site.admin.email}&action=setting.set")
    expect(events.first).to_contain_text("setting.set")
    expect(admin_page.get_by_label("Who")).to_have_value(site.admin.email)


def test_verify_the_chain_intact(admin_page: Page, site: Site) -> None:
    _set_retry(site, 2)
    total = site.api("GET", "/api/v1/audit", params={"limit": 1}).json()["total"]
    admin_page.goto("/console/audit")
    admin_page.get_by_role("button", name="Verify the chain").click()
    result = admin_page.locator("#chain-result")
    expect(result).to_contain_text("Chain intact")
    expect(result).to_contain_text(f"{total:,} events checked")
    axe_clean(admin_page)


def test_a_rotated_provider_key_never_shows(admin_page: Page, site: Site) -> None:
    made = site.api(
        "POST",
        "/api/v1/providers",
        json={
            "name": "audited",
            "kind": "openai",
            "base_url": site.upstream.url,
            "api_key": OLD_KEY,
        },
    ).json()
    site.api("PUT", f"/api/v1/providers/{made['id']}/api-key", json={"api_key": NEW_KEY})
    _filter_by_action(admin_page, "provider.rotate_key")
    event = admin_page.locator("li.event").first
    expect(event.get_by_role("row", name="api_key changed")).to_be_visible()
    event.get_by_text("Full before and after").click()
    pages = [admin_page.content()]
    event.get_by_role("link", name="provider.rotate_key").click()
    expect(admin_page.get_by_role("heading", level=1)).to_contain_text("provider.rotate_key")
    pages.append(admin_page.content())
    admin_page.goto("/console/audit")
    pages.append(admin_page.content())
    for html in pages:
        for secret in (OLD_KEY, NEW_KEY, OLD_KEY[-4:], NEW_KEY[-4:]):
            assert secret not in html


def test_members_find_no_audit_trail(member_page: Page) -> None:
    for path in ("/console/audit", "/console/audit/1", "/console/audit?action=user.create"):
        assert _status(member_page, path) == 404, path
        expect(member_page.get_by_role("heading", level=1)).to_have_text("Not found")


def test_bad_ids_are_not_found(admin_page: Page) -> None:
    for ident in ("abc", "0", "-1", "99999999", "9" * 19, "9" * 40, "1.5", "%00", "verify"):
        assert _status(admin_page, f"/console/audit/{ident}") == 404, ident
        expect(admin_page.get_by_role("heading", level=1)).to_have_text("Not found")


def test_bad_filters_are_named_beside_their_field(admin_page: Page) -> None:
    cases = {
        "since=yesterday": ("From (UTC day)", "must be a date"),
        "since=2026-12-05&until=2026-12-01": ("To (UTC day, included)", "must not be before"),
        "entity_id=" + "x" * 65: ("Entity id", "64"),
        "actor=a%00b": ("Who", "cannot be accepted"),
    }
    for query, (label, message) in cases.items():
        assert _status(admin_page, f"/console/audit?{query}") == 422, query
        field = admin_page.get_by_label(label)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(admin_page.locator(".field.has-error")).to_contain_text(message)
        expect(admin_page.get_by_role("alert")).to_contain_text("Nothing was saved")
    assert _status(admin_page, "/console/audit?before=abc") == 422
    expect(admin_page.get_by_role("alert")).to_contain_text("before")
    axe_clean(admin_page)


def test_older_pages_and_far_starting_points(admin_page: Page, site: Site) -> None:
    for attempts in range(1, 11):
        _set_retry(site, attempts)
    assert site.api("GET", "/api/v1/audit", params={"limit": 1}).json()["total"] > 20
    admin_page.goto("/console/audit")
    events = admin_page.locator("li.event h3 a")
    expect(events).to_have_count(20)
    first_page = admin_page.locator("li.event h3").all_inner_texts()
    admin_page.get_by_role("link", name="Older events").click()
    expect(events.first).to_be_visible()
    assert not set(admin_page.locator("li.event h3").all_inner_texts()) & set(first_page)
    admin_page.get_by_role("link", name="Newest events").click()
    expect(events).to_have_count(20)
    assert _status(admin_page, "/console/audit?before=1") == 200
    expect(admin_page.get_by_text("No older event matches these filters.")).to_be_visible()
    assert _status(admin_page, f"/console/audit?before={2**63 - 1}") == 200
    expect(events).to_have_count(20)
    for far in (str(2**63), "9" * 5000, "-1", "1e9"):
        assert _status(admin_page, f"/console/audit?before={far}") == 422, far[:20]


def test_verify_needs_the_csrf_token(admin_page: Page, site: Site) -> None:
    admin_page.goto("/console/audit")
    answer = admin_page.request.post(
        f"{site.base}/console/audit/verify", form={"x": "1"}, headers={"Origin": site.base}
    )
    assert answer.status == 403
    assert httpx.post(f"{site.base}/console/audit/verify").status_code in (303, 403)


def test_phone_width_fits(phone: Callable[[Person], Page], site: Site) -> None:
    _set_retry(site, 4)
    tab = phone(site.admin)
    tab.goto("/console/audit")
    expect(tab.get_by_role("heading", level=1)).to_have_text("Audit trail")
    tab.locator("li.event details summary").first.click()
    tab.locator("li.event details summary").nth(1).click()
    no_overflow(tab)
    tab.locator("li.event h3 a").first.click()
    expect(tab.get_by_role("heading", level=1)).to_contain_text("Event")
    tab.wait_for_load_state()  # its stylesheets too
    no_overflow(tab)
