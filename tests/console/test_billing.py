"""Plans, subscriptions and credits in a real browser: an admin creates a plan (a bad value
first: its error beside the field, nothing saved), subscribes the member, grants and
adjusts credits (the REST balance agrees), reads the ledger, suspends, resumes and cancels
the subscription (after a confirmation) and runs the renewal; the member sees their own
balance and ledger only and the admin pages answer 404. Every page passes axe-core at
laptop width and fits a phone."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from playwright.sync_api import Dialog, Page, expect

from tests.console.conftest import axe_clean, no_overflow
from tests.support.console_site import Person, Site


def _balance(site: Site, person: Person) -> Decimal:
    answer = site.api("GET", "/api/v1/credits", params={"user_id": person.user_id})
    return Decimal(answer.json()["balance"])


def _subscription(site: Site, person: Person) -> dict[str, str]:
    found = site.api("GET", "/api/v1/subscriptions", params={"user_id": person.user_id})
    items: list[dict[str, str]] = found.json()["items"]
    assert items, "no subscription"
    return items[0]


def _plan_names(site: Site) -> set[str]:
    plans = site.api("GET", "/api/v1/plans", params={"include_inactive": "true"}).json()
    return {p["name"] for p in plans}


def test_admin_creates_a_plan_after_a_bad_value(admin_page: Page, site: Site) -> None:
    tab = admin_page
    tab.goto("/console/plans")
    expect(tab.get_by_role("heading", level=1)).to_have_text("Plans")
    expect(tab.get_by_role("table")).to_contain_text("Pro")
    axe_clean(tab)
    tab.get_by_role("link", name="New plan").click()
    tab.get_by_label("Name", exact=False).first.fill("team")
    tab.get_by_label("Display name").fill("Team")
    tab.get_by_label("Credits per period").fill("abc")
    tab.get_by_label("Rollover", exact=True).select_option("capped")
    tab.get_by_role("button", name="Create plan").click()
    credits = tab.get_by_label("Credits per period")
    expect(credits).to_have_attribute("aria-invalid", "true")
    expect(tab.locator("#error-monthly_credits")).to_contain_text("decimal")
    expect(tab.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(credits).to_have_value("abc")  # what was typed comes back
    axe_clean(tab)
    assert "team" not in _plan_names(site)

    credits.fill("25000")
    tab.get_by_role("button", name="Create plan").click()
    expect(tab.locator("#error-rollover_cap")).to_contain_text("needs rollover_cap")
    assert "team" not in _plan_names(site)
    tab.get_by_label("Rollover cap").fill("1000")
    tab.get_by_label("Requests per minute").fill("300")
    tab.get_by_label("Models allowed").fill("gpt-4o-mini\nmock-small")
    tab.get_by_role("button", name="Create plan").click()
    expect(tab.get_by_role("status")).to_have_text("The plan was created.")
    plan = site.api("GET", "/api/v1/plans/team").json()
    assert plan["monthly_credits"] == "25000"
    assert (plan["rollover"], plan["rollover_cap"], plan["rpm_limit"]) == ("capped", "1000", 300)
    assert plan["allowed_models"] == ["gpt-4o-mini", "mock-small"]

    tab.get_by_label("Requests per minute").fill("-3")
    tab.get_by_role("button", name="Save plan").click()
    expect(tab.locator("#error-rpm_limit")).to_be_visible()
    assert site.api("GET", "/api/v1/plans/team").json()["rpm_limit"] == 300


def test_admin_subscribes_the_member_and_manages_credits(admin_page: Page, site: Site) -> None:
    tab = admin_page
    member = site.member
    tab.goto("/console/subscriptions")
    subscribe = tab.locator("form[action='/console/subscriptions'][method='post']")
    subscribe.get_by_label("User email").fill("nobody@example.com")
    subscribe.get_by_role("button", name="Subscribe").click()
    expect(tab.locator("#error-user_email")).to_have_text("No user has this email.")
    axe_clean(tab)
    subscribe.get_by_label("User email").fill(member.email)
    subscribe.get_by_label("Plan").select_option(label="Team")
    subscribe.get_by_role("button", name="Subscribe").click()
    expect(tab.get_by_role("status")).to_contain_text("was subscribed")
    row = tab.get_by_role("row", name=member.email)
    expect(row).to_contain_text("team")
    expect(row).to_contain_text("active")
    assert _subscription(site, member)["status"] == "active"
    assert _balance(site, member) == Decimal(25000)

    row.get_by_role("link", name=member.email).click()
    expect(tab.get_by_role("heading", level=1)).to_have_text(f"Credits of {member.email}")
    expect(tab.locator("#balance")).to_have_text("25,000.00")
    grant = tab.locator("form[action='/console/credits/grant']")
    grant.get_by_label("Amount to grant").fill("1e30")
    grant.get_by_role("button", name="Grant credits").click()
    expect(tab.locator("#error-grant_amount")).to_contain_text("less than or equal")
    axe_clean(tab)
    assert _balance(site, member) == Decimal(25000)
    grant = tab.locator("form[action='/console/credits/grant']")
    grant.get_by_label("Amount to grant").fill("100.5")
    grant.get_by_label("Reason").fill("invoice 1042")
    grant.get_by_role("button", name="Grant credits").click()
    expect(tab.get_by_role("status")).to_have_text("The credits were granted.")
    assert _balance(site, member) == Decimal("25100.5")

    adjust = tab.locator("form[action='/console/credits/adjust']")
    adjust.get_by_label("Amount").fill("-99999")
    adjust.get_by_label("Reason").fill("too much")
    adjust.get_by_role("button", name="Adjust").click()
    expect(tab.locator("#error-adjust_amount")).to_contain_text("available")
    assert _balance(site, member) == Decimal("25100.5")
    adjust = tab.locator("form[action='/console/credits/adjust']")
    adjust.get_by_label("Amount").fill("-0.5")
    adjust.get_by_label("Reason").fill("refund")
    adjust.get_by_role("button", name="Adjust").click()
    expect(tab.get_by_role("status")).to_have_text("The balance was adjusted.")
    assert _balance(site, member) == Decimal(25100)
    expect(tab.locator("#balance")).to_have_text("25,100.00")

    ledger = tab.get_by_role("table").last
    rows = ledger.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("refund")
    expect(rows.nth(0).locator("td").nth(3)).to_have_text("25,100.00")  # balance after
    expect(rows.nth(2).locator("td").nth(3)).to_have_text("25,000.00")  # the plan's grant
    axe_clean(tab)

    tab.goto("/console/credits")
    expect(tab.get_by_role("row", name=member.email)).to_contain_text("25,100.00")
    axe_clean(tab)
    tab.get_by_label("User email").fill(member.email.upper())
    tab.get_by_role("button", name="Find").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text(f"Credits of {member.email}")


def test_admin_suspends_resumes_and_cancels_after_confirming(admin_page: Page, site: Site) -> None:
    tab = admin_page
    member = site.member
    tab.goto(f"/console/subscriptions?user={member.email}")
    row = tab.get_by_role("row", name=member.email)
    row.get_by_role("button", name="Suspend").click()
    expect(tab.get_by_role("status")).to_have_text("The subscription was suspended.")
    assert _subscription(site, member)["status"] == "suspended"
    tab.get_by_role("row", name=member.email).get_by_role("button", name="Resume").click()
    expect(tab.get_by_role("status")).to_have_text("The subscription was resumed.")
    assert _subscription(site, member)["status"] == "active"

    questions: list[str] = []

    def answer(accept: bool) -> Callable[[Dialog], None]:
        def handle(dialog: Dialog) -> None:
            questions.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    cancel = tab.get_by_role("row", name=member.email).get_by_role("button", name="Cancel")
    tab.once("dialog", answer(False))
    cancel.click()
    expect(cancel).to_be_visible()
    assert _subscription(site, member)["status"] == "active"
    tab.once("dialog", answer(True))
    cancel.click()
    expect(tab.get_by_role("status")).to_have_text("The subscription was cancelled.")
    assert _subscription(site, member)["status"] == "cancelled"
    assert len(questions) == 2
    assert f"Cancel the team subscription of {member.email} now?" in questions[0]

    tab.get_by_label("Status").select_option("cancelled")
    tab.get_by_role("button", name="Filter").click()
    expect(tab.get_by_role("row", name=member.email)).to_contain_text("cancelled")
    tab.get_by_role("button", name="Renew now").click()
    expect(tab.get_by_role("status")).to_contain_text("Renewal run:")
    axe_clean(tab)


def test_admin_retires_a_plan_after_confirming(admin_page: Page, site: Site) -> None:
    tab = admin_page
    site.api("POST", "/api/v1/plans", json={"name": "short-lived", "monthly_credits": "1"})
    tab.goto("/console/plans")
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.get_by_role("button", name="Retire short-lived").click()
    expect(tab.get_by_role("status")).to_contain_text("retired")
    assert site.api("GET", "/api/v1/plans/short-lived").json()["active"] is False
    tab.get_by_role("button", name="Reactivate short-lived").click()
    expect(tab.get_by_role("status")).to_have_text("The plan is active again.")
    assert site.api("GET", "/api/v1/plans/short-lived").json()["active"] is True


def test_member_sees_only_their_own_credits(member_page: Page, site: Site) -> None:
    tab = member_page
    member, admin = site.member, site.admin
    site.api(
        "POST",
        "/api/v1/credits/grants",
        json={"user_id": admin.user_id, "amount": "7777", "reason": "the admin's own"},
    )
    tab.goto("/console/credits")
    expect(tab.get_by_role("heading", level=1)).to_have_text("Your credits")
    expect(tab.locator("#balance")).to_have_text(f"{_balance(site, member):,.2f}")
    expect(tab.get_by_role("heading", name="Ledger")).to_be_visible()
    expect(tab.get_by_role("button", name="Grant credits")).to_have_count(0)
    expect(tab.get_by_text("the admin's own")).to_have_count(0)
    axe_clean(tab)
    for path in (
        f"/console/credits?user_id={admin.user_id}",
        "/console/credits?user_id=garbage",
        "/console/plans",
        "/console/plans/new",
        "/console/subscriptions",
    ):
        answer = tab.goto(path)
        assert answer is not None
        assert answer.status == 404, path
        expect(tab.get_by_role("heading", level=1)).to_have_text("Not found")


def test_every_page_fits_a_phone(phone: Callable[[Person], Page], site: Site) -> None:
    tab = phone(site.admin)
    for path in (
        "/console/plans",
        "/console/plans/new",
        "/console/subscriptions",
        "/console/credits",
        f"/console/credits?user_id={site.member.user_id}",
    ):
        tab.goto(path)
        expect(tab.get_by_role("heading", level=1)).to_be_visible()
        no_overflow(tab)
    member = phone(site.member)
    member.goto("/console/credits")
    expect(member.get_by_role("heading", level=1)).to_have_text("Your credits")
    no_overflow(member)
