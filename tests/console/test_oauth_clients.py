"""The OAuth clients pages in a real browser (admins only): a confidential client's secret
is shown once and never again (nor in the server's log), a new one by rotation; disable,
enable, edit with errors beside their fields and nothing saved, delete. Members find no
such pages (404)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.console.conftest import axe_clean, no_overflow
from tests.support.console_site import Person, Site

API = "/api/v1/oauth/clients"


def _client(site: Site, client_id: str) -> dict[str, Any]:
    found: dict[str, Any] = site.api("GET", f"{API}/{client_id}").json()
    return found


def _fill(tab: Page, client_id: str, name: str, uris: str) -> None:
    tab.goto("/console/oauth-clients/new")
    tab.get_by_role("textbox", name="Client id").fill(client_id)
    tab.get_by_role("textbox", name="Name").fill(name)
    tab.get_by_label("Redirect URIs").fill(uris)


def test_confidential_client_secret_shown_once_rotated_disabled_deleted(
    admin_page: Page, site: Site
) -> None:
    tab = admin_page
    tab.on("dialog", lambda dialog: dialog.accept())
    tab.goto("/console/oauth-clients")
    axe_clean(tab)
    _fill(tab, "reports-web", "Reports", "https://reports.example.com/callback")
    axe_clean(tab)
    tab.get_by_role("button", name="Create client").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("OAuth client created")
    expect(tab.get_by_text("it will not be shown again")).to_be_visible()
    secret = tab.locator(".secret").inner_text().strip()
    assert secret.startswith("mycs_")
    axe_clean(tab)
    made = _client(site, "reports-web")
    assert made["secret_prefix"] == secret[:12]
    assert made["redirect_uris"] == ["https://reports.example.com/callback"]
    assert made["grant_types"] == ["authorization_code", "refresh_token"]

    tab.get_by_role("link", name="Done").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Reports")
    assert secret not in tab.content()
    axe_clean(tab)
    tab.get_by_role("button", name="Disable").click()
    expect(tab.get_by_role("status")).to_contain_text("OAuth client disabled")
    assert _client(site, "reports-web")["enabled"] is False
    tab.get_by_role("button", name="Enable").click()
    expect(tab.get_by_role("status")).to_have_text("OAuth client enabled.")
    assert _client(site, "reports-web")["enabled"] is True

    tab.get_by_role("button", name="Rotate secret").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("New client secret")
    rotated = tab.locator(".secret").inner_text().strip()
    assert rotated != secret
    assert _client(site, "reports-web")["secret_prefix"] == rotated[:12]

    tab.goto("/console/oauth-clients")
    expect(tab.get_by_role("row").filter(has_text="reports-web")).to_contain_text("enabled")
    for later in (secret, rotated):
        assert later not in tab.content()
        assert later not in site.log.read_text()
    tab.get_by_role("link", name="reports-web").click()
    tab.get_by_role("button", name="Delete client").click()
    expect(tab.get_by_role("status")).to_contain_text("OAuth client deleted")
    expect(tab.get_by_role("link", name="reports-web")).to_have_count(0)
    assert site.api("GET", f"{API}/reports-web", ok=False).status_code == 404


def test_public_client_and_errors_beside_their_fields(admin_page: Page, site: Site) -> None:
    tab = admin_page
    _fill(tab, "Bad Id", "", "http://localhost/cb")
    tab.get_by_label("Client type").select_option("public")
    tab.get_by_role("checkbox", name="client_credentials").check()
    tab.get_by_role("button", name="Create client").click()
    expect(tab.locator("#error-client_id")).to_contain_text("must be a slug")
    expect(tab.locator("#error-name")).to_be_visible()
    expect(tab.locator("#error-redirect_uris")).to_contain_text("127.0.0.1")
    expect(tab.get_by_text("Nothing was saved.")).to_be_visible()
    axe_clean(tab)
    tab.get_by_role("textbox", name="Client id").fill("notes-desktop")
    tab.get_by_role("textbox", name="Name").fill("Notes")
    tab.get_by_label("Redirect URIs").fill("http://127.0.0.1/callback")
    tab.get_by_role("button", name="Create client").click()
    expect(tab.locator("#error-grant_types")).to_contain_text("public client")
    assert site.api("GET", f"{API}/notes-desktop", ok=False).status_code == 404
    tab.get_by_role("checkbox", name="client_credentials").uncheck()
    tab.get_by_role("button", name="Create client").click()
    expect(tab.get_by_role("status")).to_have_text("OAuth client created.")
    expect(tab.get_by_text("none (public client)")).to_be_visible()
    expect(tab.get_by_role("button", name="Rotate secret")).to_have_count(0)

    # The same id again: a conflict beside the id.
    _fill(tab, "notes-desktop", "Again", "http://127.0.0.1/cb")
    tab.get_by_role("button", name="Create client").click()
    expect(tab.locator("#error-client_id")).to_contain_text("already exists")

    # Editing: a refused URI or service user saves nothing.
    tab.goto("/console/oauth-clients/notes-desktop")
    version = _client(site, "notes-desktop")["config_version"]
    tab.get_by_label("Redirect URIs").fill("http://127.0.0.1/callback\nftp://x y")
    tab.get_by_label("Service user's email").fill("nobody@example.com")
    tab.get_by_role("button", name="Save changes").click()
    expect(tab.locator("#error-redirect_uris")).to_be_visible()
    expect(tab.locator("#error-service_user")).to_contain_text("is not a user's email")
    assert _client(site, "notes-desktop")["config_version"] == version
    tab.get_by_label("Service user's email").fill("")
    tab.get_by_label("Redirect URIs").fill("http://127.0.0.1/callback\nhttp://[::1]/callback")
    tab.get_by_role("textbox", name="Name").fill("Notes for desktop")
    tab.get_by_role("button", name="Save changes").click()
    expect(tab.get_by_role("status")).to_have_text("Changes saved.")
    saved = _client(site, "notes-desktop")
    assert saved["name"] == "Notes for desktop"
    assert saved["redirect_uris"] == ["http://127.0.0.1/callback", "http://[::1]/callback"]


def test_members_and_strangers_find_nothing(member_page: Page, admin_page: Page) -> None:
    for path in ("/console/oauth-clients", "/console/oauth-clients/new"):
        answer = member_page.goto(path)
        assert answer is not None
        assert answer.status == 404
        expect(member_page.get_by_role("heading", name="Not found")).to_be_visible()
    for client_id in ("nope", "NOPE", "%00", "x" * 500, "%F0%9F%98%80"):
        answer = admin_page.goto(f"/console/oauth-clients/{client_id}")
        assert answer is not None
        assert answer.status == 404, client_id


def test_oauth_pages_fit_a_phone(phone: Callable[[Person], Page], site: Site) -> None:
    site.api(
        "POST",
        API,
        json={
            "client_id": "phone-app",
            "name": "Phone app",
            "client_type": "public",
            "redirect_uris": ["com.example.phone:/callback"],
            "scopes": ["openid", "llm.inference"],
        },
    )
    tab = phone(site.admin)
    for path in (
        "/console/oauth-clients",
        "/console/oauth-clients/new",
        "/console/oauth-clients/phone-app",
    ):
        tab.goto(path)
        expect(tab.get_by_role("heading", level=1)).to_be_visible()
        no_overflow(tab)
