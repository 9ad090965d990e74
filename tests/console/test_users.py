"""The users pages in a real browser: an admin finds, creates, edits, suspends, restores,
deletes and purges users, with errors beside their fields and nothing saved; a suspended
user can neither sign in nor call the API. Members find no users pages (404)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Tabs, axe_clean, no_overflow
from tests.support.console_site import Person, Site

PASSWORD = "a long enough passphrase 7"


def _user(site: Site, email: str) -> dict[str, object] | None:
    found = site.api("GET", "/api/v1/users", params={"limit": 500}).json()["items"]
    return next((u for u in found if u["email"] == email), None)


def _try_sign_in(tabs: Tabs, email: str, password: str) -> Page:
    tab = tabs.open(None)
    tab.goto("/login?next=/console")
    tab.get_by_label("Email").fill(email)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Sign in").click()
    return tab


def test_admin_creates_suspends_and_restores_a_user(
    admin_page: Page, site: Site, tabs: Tabs
) -> None:
    tab = admin_page
    tab.on("dialog", lambda dialog: dialog.accept())
    tab.goto("/console/users")
    expect(tab.get_by_role("heading", level=1)).to_have_text("Users")
    axe_clean(tab)
    tab.get_by_role("link", name="New user").click()
    tab.get_by_label("Email").fill("sam@example.com")
    tab.get_by_label("Display name").fill("Sam Smith")
    tab.get_by_label("Requests per minute").fill("120")
    tab.get_by_label("First password").fill(PASSWORD)
    axe_clean(tab)
    tab.get_by_role("button", name="Create user").click()
    expect(tab.get_by_role("status")).to_have_text("User created.")
    expect(tab.get_by_role("heading", level=1)).to_have_text("sam@example.com")
    made = _user(site, "sam@example.com")
    assert made is not None
    assert made["rpm_limit"] == 120
    axe_clean(tab)
    spec = {"name": "sam's", "user_id": made["id"], "scopes": ["user.info"]}
    key = site.api("POST", "/api/v1/keys", json=spec).json()["key"]

    # Limits: a bad value is shown beside its field and nothing is saved.
    tab.get_by_label("Tokens per minute").fill("99999999999999")
    tab.get_by_role("button", name="Save changes").click()
    expect(tab.locator("#error-tpm_limit")).to_be_visible()
    expect(tab.get_by_label("Tokens per minute")).to_have_attribute("aria-invalid", "true")
    assert _user(site, "sam@example.com")["tpm_limit"] is None  # type: ignore[index]
    tab.get_by_label("Tokens per minute").fill("5000")
    tab.get_by_label("Requests per minute").fill("")
    tab.get_by_role("button", name="Save changes").click()
    expect(tab.get_by_role("status")).to_have_text("Changes saved.")
    saved = _user(site, "sam@example.com")
    assert saved is not None
    assert (saved["tpm_limit"], saved["rpm_limit"]) == (5000, None)

    # Suspended: no sign-in, no API calls; restored: both again.
    tab.get_by_role("button", name="Suspend").click()
    expect(tab.get_by_role("status")).to_contain_text("User suspended")
    refused = _try_sign_in(tabs, "sam@example.com", PASSWORD)
    expect(refused.get_by_text("it is suspended or deleted")).to_be_visible()
    me = site.api("GET", "/api/v1/users/me", key=key, ok=False)
    assert me.status_code == 401
    tab.get_by_role("button", name="Restore access").click()
    expect(tab.get_by_role("status")).to_contain_text("User restored")
    assert site.api("GET", "/api/v1/users/me", key=key).json()["email"] == "sam@example.com"
    back = _try_sign_in(tabs, "sam@example.com", PASSWORD)
    back.wait_for_url("**/console")

    # Found by the list's search.
    tab.goto("/console/users?email=SAM")
    expect(tab.get_by_role("link", name="sam@example.com")).to_be_visible()
    expect(tab.get_by_role("link", name=site.member.email)).to_have_count(0)
    tab.goto("/console/users?status=suspended")
    expect(tab.get_by_text("No user matches these filters.")).to_be_visible()


def test_create_errors_are_beside_their_fields(admin_page: Page, site: Site) -> None:
    tab = admin_page
    tab.goto("/console/users/new")
    tab.get_by_label("Email").fill("not an email")
    tab.get_by_role("button", name="Create user").click()
    expect(tab.locator("#error-email")).to_contain_text("is not an email address")
    expect(tab.get_by_text("Nothing was saved.")).to_be_visible()
    tab.get_by_label("Email").fill(site.member.email.upper())
    tab.get_by_role("button", name="Create user").click()
    expect(tab.locator("#error-email")).to_contain_text("already registered")
    tab.get_by_label("Email").fill("shorty@example.com")
    tab.get_by_label("First password").fill("short")
    tab.get_by_role("button", name="Create user").click()
    expect(tab.locator("#error-password")).to_contain_text("at least 12 characters")
    expect(tab.get_by_label("Email")).to_have_value("shorty@example.com")
    assert _user(site, "shorty@example.com") is None
    axe_clean(tab)


def test_delete_restore_and_purge(admin_page: Page, site: Site) -> None:
    made = site.api("POST", "/api/v1/users", json={"email": "gone@example.com"}).json()
    tab = admin_page
    tab.on("dialog", lambda dialog: dialog.accept())
    tab.goto(f"/console/users/{made['id']}")
    tab.get_by_role("button", name="Delete user").click()
    expect(tab.get_by_role("status")).to_contain_text("User deleted")
    tab.get_by_role("button", name="Restore user").click()
    expect(tab.get_by_role("status")).to_have_text("User restored from deletion.")
    tab.get_by_role("button", name="Delete user").click()
    tab.goto("/console/users?status=deleted")
    tab.get_by_role("link", name="gone@example.com").click()
    tab.get_by_role("button", name="Purge for good").click()
    expect(tab.get_by_role("status")).to_contain_text("User purged")
    assert site.api("GET", f"/api/v1/users/{made['id']}", ok=False).status_code == 404


def test_the_last_admin_is_refused_in_place(admin_page: Page, site: Site) -> None:
    tab = admin_page
    tab.goto(f"/console/users/{site.admin.user_id}")
    tab.get_by_label("Role").select_option("member")
    tab.get_by_role("button", name="Save changes").click()
    expect(tab.locator("#error-role")).to_contain_text("last active admin")
    assert site.api("GET", "/api/v1/users/me").json()["role"] == "admin"


def test_members_find_no_users_pages(member_page: Page, site: Site) -> None:
    for path in ("/console/users", "/console/users/new", f"/console/users/{site.member.user_id}"):
        answer = member_page.goto(path)
        assert answer is not None
        assert answer.status == 404
        expect(member_page.get_by_role("heading", name="Not found")).to_be_visible()


def test_garbage_and_unknown_ids_are_not_found(admin_page: Page) -> None:
    for path in (
        "/console/users/nope",
        "/console/users/00000000-0000-0000-0000-000000000000",
        "/console/users?offset=99999999999999999999999&role=%00",
    ):
        answer = admin_page.goto(path)
        assert answer is not None
        assert answer.status == (200 if "?" in path else 404), path


def test_forms_need_their_token_and_plain_text(admin_page: Page, site: Site) -> None:
    admin_page.goto(f"/console/users/{site.member.user_id}")
    cookies = {c["name"]: c["value"] for c in admin_page.context.cookies()}
    token = admin_page.locator("input[name=csrf_token]").first.get_attribute("value")
    url = f"{site.base}/console/users/{site.member.user_id}/status"
    headers = {"Origin": site.base}
    with httpx.Client(cookies=cookies, headers=headers) as http:
        assert http.post(url, data={"status": "suspended"}).status_code == 403
        nul = http.post(url, data={"csrf_token": token, "status": "sus\x00pended"})
        assert nul.status_code == 400
    assert _user(site, site.member.email)["status"] == "active"  # type: ignore[index]


def test_users_pages_fit_a_phone(phone: Callable[[Person], Page], site: Site) -> None:
    tab = phone(site.admin)
    for path in ("/console/users", "/console/users/new", f"/console/users/{site.member.user_id}"):
        tab.goto(path)
        expect(tab.get_by_role("heading", level=1)).to_be_visible()
        no_overflow(tab)
