"""A broken audit chain, found from the console: one event's payload is changed in the
site's SQLite file behind modelyard's back, and "Verify the chain" names that event, says
what is wrong and links to it. (Its own module: the other tests' site stays intact.)"""

from __future__ import annotations

import json
import sqlite3

from playwright.sync_api import Page, expect

from tests.console.conftest import axe_clean
from tests.support.console_site import Site


def _tamper(site: Site, event_id: int) -> None:
    """Rewrites one event's ``after`` as an intruder with the database file would."""
    with sqlite3.connect(site.log.parent / "console.db") as db:
        (after,) = db.execute("SELECT after FROM audit_events WHERE id = ?", (event_id,)).fetchone()
        document = json.loads(after)
        document["value"] = {"max_attempts": 10}
        db.execute(
            "UPDATE audit_events SET after = ? WHERE id = ?", (json.dumps(document), event_id)
        )
    db.close()


def test_verify_names_the_first_broken_event(admin_page: Page, site: Site) -> None:
    site.api("PUT", "/api/v1/settings/gateway.retry", json={"value": {"max_attempts": 3}})
    [changed] = site.api(
        "GET", "/api/v1/audit", params={"action": "setting.set", "limit": 1}
    ).json()["items"]
    site.api("PUT", "/api/v1/settings/gateway.retry", json={"value": {"max_attempts": 4}})
    total = site.api("GET", "/api/v1/audit", params={"limit": 1}).json()["total"]
    assert total > changed["id"]

    admin_page.goto("/console/audit")
    admin_page.get_by_role("button", name="Verify the chain").click()
    expect(admin_page.locator("#chain-result")).to_contain_text(f"{total:,} events checked")

    _tamper(site, changed["id"])
    admin_page.reload()
    admin_page.get_by_role("button", name="Verify the chain").click()
    result = admin_page.locator("#chain-result")
    expect(result).to_contain_text(f"The chain is broken at event {changed['id']}")
    expect(result).to_contain_text("setting.set of setting gateway.retry")
    expect(result).to_contain_text("content does not match its hash")
    expect(result).to_contain_text(f"The {changed['id'] - 1:,} events before it are intact")
    axe_clean(admin_page)

    result.get_by_role("link", name=f"Open event {changed['id']}").click()
    expect(admin_page.get_by_role("heading", level=1)).to_have_text(
        f"Event {changed['id']}: setting.set"
    )
    expect(admin_page.get_by_text('"max_attempts": 10')).to_be_visible()
    expect(
        admin_page.get_by_text("was changed: its content does not match its hash")
    ).to_be_visible()
    admin_page.goto(f"/console/audit/{changed['id'] + 1}")  # the next one links to it as stored
    expect(
        admin_page.get_by_text("linked to the event before it, matching its hash")
    ).to_be_visible()


def test_verify_works_without_scripts(admin_page: Page, site: Site) -> None:
    """The button is a plain form: with console.js blocked the whole page comes back."""
    admin_page.route("**/static/console.js", lambda route: route.abort())
    admin_page.goto("/console/audit")
    admin_page.get_by_role("button", name="Verify the chain").click()
    admin_page.wait_for_url("**/console/audit/verify")
    expect(admin_page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    expect(admin_page.locator("#chain-result")).to_contain_text("The chain is broken at event")
