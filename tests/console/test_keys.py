"""The API keys pages in a real browser: a key is shown once, copied, works, and stops
working when revoked; the secret is in no later page nor in the server's log. Members
manage only their own keys; another user's key id is not found and nothing is revoked."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import axe_clean, no_overflow
from tests.support.console_site import Person, Site


def _keys(site: Site, person: Person) -> list[dict[str, object]]:
    found: list[dict[str, object]] = site.api(
        "GET", "/api/v1/keys", params={"user_id": person.user_id}
    ).json()
    return found


def _create(tab: Page, name: str, scopes: tuple[str, ...] = ()) -> str:
    tab.goto("/console/keys")
    tab.get_by_role("link", name="New API key").click()
    tab.get_by_role("textbox", name="Name").fill(name)
    for scope in scopes:
        tab.get_by_role("checkbox", name=scope).check()
    tab.get_by_role("button", name="Create key").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Key created")
    secret = tab.locator(".secret").inner_text().strip()
    assert secret.startswith("myk_")
    return secret


def test_admin_key_is_shown_once_copied_used_and_revoked(admin_page: Page, site: Site) -> None:
    tab = admin_page
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
    tab.on("dialog", lambda dialog: dialog.accept())
    tab.goto("/console/keys/new")
    axe_clean(tab)
    secret = _create(tab, "laptop", ("user.info",))
    expect(tab.get_by_text("it will not be shown again")).to_be_visible()
    axe_clean(tab)
    tab.get_by_role("button", name="Copy key").click()
    expect(tab.get_by_role("button", name="Copy key")).to_have_attribute("data-copied", "true")
    assert tab.evaluate("() => navigator.clipboard.readText()") == secret
    me = site.api("GET", "/api/v1/users/me", key=secret)
    assert me.json()["email"] == site.admin.email

    tab.get_by_role("link", name="Done").click()
    row = tab.get_by_role("row").filter(has_text="laptop")
    expect(row).to_contain_text(secret[:12])
    assert secret not in tab.content()
    axe_clean(tab)
    row.get_by_role("button", name="Revoke").click()
    expect(tab.get_by_role("status")).to_contain_text("Key revoked")
    assert site.api("GET", "/api/v1/users/me", key=secret, ok=False).status_code == 401
    tab.goto("/console/keys?state=revoked")
    expect(tab.get_by_role("row").filter(has_text="laptop")).to_contain_text("revoked")
    assert secret not in tab.content()
    assert secret not in site.log.read_text()


def test_admin_creates_a_key_for_a_member(admin_page: Page, site: Site) -> None:
    tab = admin_page
    tab.goto(f"/console/keys/new?user_id={site.member.user_id}")
    expect(tab.get_by_label("Owner's email")).to_have_value(site.member.email)
    tab.get_by_role("textbox", name="Name").fill("for mia")
    tab.get_by_label("Requests per minute").fill("30")
    tab.get_by_role("button", name="Create key").click()
    secret = tab.locator(".secret").inner_text().strip()
    made = [k for k in _keys(site, site.member) if k["name"] == "for mia"]
    assert len(made) == 1
    assert made[0]["rpm_limit"] == 30
    assert made[0]["scopes"] == ["llm.inference", "models.read"]
    tab.goto(f"/console/keys?owner={site.member.email}")
    expect(tab.get_by_role("row").filter(has_text="for mia")).to_be_visible()
    expect(tab.get_by_role("row").filter(has_text=site.admin.email)).to_have_count(0)
    tab.goto("/console/keys?owner=nobody@example.com")
    expect(tab.get_by_text("No user has this email.")).to_be_visible()
    assert secret not in site.log.read_text()


def test_key_form_errors_save_nothing(admin_page: Page, site: Site) -> None:
    tab = admin_page
    before = len(_keys(site, site.admin))
    tab.goto("/console/keys/new")
    tab.get_by_role("textbox", name="Name").fill("bad")
    for scope in ("llm.inference", "models.read"):
        tab.get_by_role("checkbox", name=scope).uncheck()
    tab.get_by_role("button", name="Create key").click()
    expect(tab.locator("#error-scopes")).to_contain_text("at least one scope")
    tab.get_by_role("checkbox", name="llm.inference").check()
    tab.get_by_label("Expires on (UTC day)").fill("2001-01-01")
    tab.get_by_label("Tokens per minute").fill("4294967296")
    tab.get_by_label("Owner's email").fill("nobody@example.com")
    tab.get_by_role("button", name="Create key").click()
    expect(tab.locator("#error-tpm_limit")).to_be_visible()
    expect(tab.locator("#error-owner")).to_contain_text("is not a user's email")
    tab.get_by_label("Owner's email").fill("")
    tab.get_by_label("Tokens per minute").fill("")
    tab.get_by_role("button", name="Create key").click()
    expect(tab.locator("#error-expires_on")).to_contain_text("must be in the future")
    expect(tab.get_by_role("textbox", name="Name")).to_have_value("bad")
    axe_clean(tab)
    assert len(_keys(site, site.admin)) == before


def test_member_manages_only_their_own_keys(member_page: Page, site: Site) -> None:
    tab = member_page
    tab.on("dialog", lambda dialog: dialog.accept())
    admins = site.api("POST", "/api/v1/keys", json={"name": "admin's own"}).json()["api_key"]
    tab.goto("/console/keys/new")
    expect(tab.get_by_label("Owner's email")).to_have_count(0)
    secret = _create(tab, "mia phone")
    assert site.api("GET", "/v1/models", key=secret).status_code == 200
    tab.goto("/console/keys")
    expect(tab.get_by_role("row").filter(has_text="mia phone")).to_be_visible()
    expect(tab.get_by_role("row").filter(has_text="admin's own")).to_have_count(0)
    axe_clean(tab)

    # Another user's key (or the admin's filter) through the member's own forms: not found.
    token = tab.locator("input[name=csrf_token]").first.get_attribute("value")
    cookies = {c["name"]: c["value"] for c in tab.context.cookies()}
    with httpx.Client(base_url=site.base, cookies=cookies, headers={"Origin": site.base}) as http:
        for key_id in (admins["id"], "garbage", "00000000-0000-0000-0000-000000000000"):
            answer = http.post(f"/console/keys/{key_id}/revoke", data={"csrf_token": token})
            assert answer.status_code == 404, key_id
        other = http.get(f"/console/keys?user_id={site.admin.user_id}")
        assert other.status_code == 404
        no_token = http.post(f"/console/keys/{admins['id']}/revoke", data={"x": "1"})
        assert no_token.status_code == 403
    assert site.api("GET", f"/api/v1/keys?user_id={site.admin.user_id}").status_code == 200
    theirs = [k for k in _keys(site, site.admin) if k["id"] == admins["id"]]
    assert theirs[0]["revoked_at"] is None

    tab.get_by_role("row").filter(has_text="mia phone").get_by_role("button").click()
    expect(tab.get_by_role("status")).to_contain_text("Key revoked")
    assert site.api("GET", "/v1/models", key=secret, ok=False).status_code == 401
    assert secret not in site.log.read_text()


def test_keys_pages_fit_a_phone(phone: Callable[[Person], Page], site: Site) -> None:
    for person in (site.admin, site.member):
        tab = phone(person)
        for path in ("/console/keys", "/console/keys/new"):
            tab.goto(path)
            expect(tab.get_by_role("heading", level=1)).to_be_visible()
            no_overflow(tab)
        _create(tab, f"phone {person.role}")
        no_overflow(tab)
