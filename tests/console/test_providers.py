"""The Providers pages in a real browser against a real server and the mock upstream: an
admin adds a provider, tests its connection (the models it lists; after a wrong key, the
upstream's 401), switches it on and off, makes it the default and the fallback, sees a
declarative config's error at its JSON path, deletes it; a member sees system providers
read-only and only their own, is refused a loopback address, and gets 404 for what is not
theirs. Every page passes axe-core and fits a phone; no key is ever in a page."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from modelyard.kinds.declarative_examples import EXAMPLE_OPENAI_CHAT
from tests.console.conftest import axe_clean, no_overflow
from tests.support.console_site import Person, Site
from tests.support.mock_openai import GOOD_KEY

WRONG_KEY = "sk-wrong-key-9876543210abcdef"


def _provider(site: Site, name: str, key: str | None = None) -> dict[str, Any]:
    listed = site.api("GET", "/api/v1/providers", key=key, params={"limit": 200}).json()
    found = [p for p in listed["items"] if p["name"] == name]
    assert len(found) == 1, [p["name"] for p in listed["items"]]
    return found[0]


def _names(site: Site, key: str | None = None) -> list[str]:
    listed = site.api("GET", "/api/v1/providers", key=key, params={"limit": 200}).json()
    return [p["name"] for p in listed["items"]]


def _add(page: Page, kind: str, fields: dict[str, str]) -> None:
    page.goto("/console/providers/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a provider")
    page.get_by_role("link", name=kind, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Add a {kind} provider")
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Add provider").click()


def _test_connection(page: Page) -> None:
    page.get_by_role("button", name="Test connection").click()


def test_admin_adds_tests_rotates_and_switches_a_provider(admin_page: Page, site: Site) -> None:
    page = admin_page
    _add(
        page,
        "openai_compatible",
        {
            "Name (required)": "mock-up",
            "Base URL (required)": site.upstream.url,
            "API key": GOOD_KEY,
        },
    )
    expect(page.get_by_role("status").first).to_have_text("The provider was added.")
    expect(page.get_by_role("heading", level=1)).to_have_text("mock-up")
    assert GOOD_KEY not in page.content()
    axe_clean(page)

    _test_connection(page)
    result = page.locator("#probe-result")
    expect(result).to_contain_text("Connected")
    expect(result).to_contain_text("1 model listed: mock-1")
    expect(result).to_contain_text("list models")
    sent = site.upstream.received[-1]
    assert (sent["method"], sent["path"]) == ("GET", "/v1/models")
    axe_clean(page)

    page.get_by_label("New API key (required)").fill(WRONG_KEY)
    page.get_by_role("button", name="Replace key").click()
    expect(page.get_by_role("status").first).to_have_text("The API key was replaced.")
    _test_connection(page)
    expect(result).to_contain_text("Failed")
    expect(result).to_contain_text("HTTP 401")
    expect(result).to_contain_text("Incorrect API key provided.")
    html = page.content()
    assert WRONG_KEY not in html
    assert GOOD_KEY not in html

    provider_id = _provider(site, "mock-up")["id"]
    page.get_by_role("button", name="Disable mock-up").click()
    expect(page.get_by_role("status").first).to_have_text("The provider is disabled.")
    assert _provider(site, "mock-up")["enabled"] is False
    page.get_by_role("button", name="Enable mock-up").click()
    expect(page.get_by_role("status").first).to_have_text("The provider is enabled.")
    assert _provider(site, "mock-up")["enabled"] is True
    page.get_by_role("button", name="Set mock-up as default").click()
    expect(page.get_by_role("status").first).to_have_text("The provider is now the default.")
    assert _provider(site, "mock-up")["is_default"] is True
    page.get_by_role("button", name="Activate mock-up as the fallback").click()
    expect(page.get_by_role("status").first).to_contain_text("active system provider")
    assert _provider(site, "mock-up")["is_active"] is True

    page.get_by_role("button", name="Disable mock-up").click()  # the active one: refused
    expect(page.get_by_role("alert")).to_contain_text("the active provider cannot be disabled")
    assert _provider(site, "mock-up")["enabled"] is True

    page.goto("/console/providers")
    row = page.get_by_role("row", name="mock-up")
    expect(row).to_contain_text("System")
    expect(row).to_contain_text("openai_compatible")
    expect(row).to_contain_text("active fallback")
    assert GOOD_KEY not in page.content()
    axe_clean(page)
    assert provider_id


def test_admin_edits_a_provider_and_deletes_one_after_confirming(
    admin_page: Page, site: Site
) -> None:
    page = admin_page
    _add(page, "fake", {"Name (required)": "throwaway"})
    expect(page.get_by_role("status").first).to_have_text("The provider was added.")
    page.get_by_role("link", name="Edit", exact=True).click()
    axe_clean(page)
    page.get_by_label("Display name").fill("Throwaway demo")
    page.get_by_label("Weight").fill("1001")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_label("Weight")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-weight")).to_contain_text("1000")
    assert _provider(site, "throwaway")["display_name"] == "throwaway"
    page.get_by_label("Weight").fill("5")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Throwaway demo")
    assert _provider(site, "throwaway")["weight"] == 5

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete provider").click()
    expect(page.get_by_role("status").first).to_have_text("The provider was deleted.")
    assert "throwaway" not in _names(site)


def test_a_declarative_config_error_is_shown_at_its_json_path(admin_page: Page, site: Site) -> None:
    page = admin_page
    broken = json.loads(json.dumps(EXAMPLE_OPENAI_CHAT))
    broken["request_builder"]["payload_structure"]["model"]["source"] = 5
    _add(
        page,
        "declarative",
        {
            "Name (required)": "decl",
            "Base URL (required)": "https://api.example.com",
            "API key": GOOD_KEY,
            "Config (required)": json.dumps(broken, indent=2),
        },
    )
    editor = page.get_by_label("Config (required)")
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-config")).to_contain_text(
        "config.request_builder.payload_structure.model.source"
    )
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved.")
    assert GOOD_KEY not in page.content()
    axe_clean(page)
    assert "decl" not in _names(site)


def test_member_sees_system_providers_read_only_and_only_their_own(
    member_page: Page, site: Site
) -> None:
    system = site.api(
        "POST",
        "/api/v1/providers",
        json={"name": "sys-shared", "kind": "openai", "api_key": GOOD_KEY},
    ).json()
    other = site.api(
        "POST", "/api/v1/users", json={"email": "other@example.com", "role": "member"}
    ).json()
    other_key = site.api(
        "POST",
        "/api/v1/keys",
        json={"name": "o", "user_id": other["id"], "scopes": ["registry.read", "registry.write"]},
    ).json()["key"]
    theirs = site.api(
        "POST",
        "/api/v1/providers",
        key=other_key,
        json={"name": "their-own", "kind": "fake"},
    ).json()
    page = member_page
    _add(page, "fake", {"Name (required)": "my-own"})
    expect(page.get_by_role("status").first).to_have_text("The provider was added.")
    expect(page.get_by_role("button", name="Test connection")).to_be_visible()
    axe_clean(page)

    page.goto("/console/providers")
    expect(page.get_by_role("row", name="sys-shared")).to_contain_text("System")
    expect(page.get_by_role("row", name="my-own")).to_contain_text("You")
    expect(page.get_by_role("row", name="their-own")).to_have_count(0)
    assert "sk-m" not in page.content()  # not even a system key's hint
    axe_clean(page)

    page.get_by_role("link", name="sys-shared").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("sys-shared")
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Test connection")).to_have_count(0)
    axe_clean(page)

    for path in (
        f"/console/providers/{system['id']}/edit",
        f"/console/providers/{theirs['id']}",
        f"/console/providers/{theirs['id']}/edit",
        "/console/providers/not-an-id",
    ):
        answer = page.goto(path)
        assert answer is not None
        assert answer.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")


def test_member_is_refused_a_loopback_address(member_page: Page, site: Site) -> None:
    page = member_page
    _add(
        page,
        "openai_compatible",
        {
            "Name (required)": "sneaky",
            "Base URL (required)": site.upstream.url,
            "API key": GOOD_KEY,
        },
    )
    expect(page.get_by_label("Base URL (required)")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-base_url")).to_contain_text("public addresses")
    assert GOOD_KEY not in page.content()
    axe_clean(page)
    assert "sneaky" not in _names(site)  # the admin sees everyone's


def test_pages_fit_a_phone(phone: Callable[[Person], Page], site: Site) -> None:
    made = site.api("POST", "/api/v1/providers", json={"name": "phone-fit", "kind": "fake"})
    pid = made.json()["id"]
    for person in (site.admin, site.member):
        tab = phone(person)
        for path in (
            "/console/providers",
            "/console/providers/new",
            "/console/providers/new?kind=declarative",
            f"/console/providers/{pid}",
        ):
            tab.goto(path)
            expect(tab.get_by_role("heading", level=1)).to_be_visible()
            no_overflow(tab)
    tab = phone(site.admin)
    tab.goto(f"/console/providers/{pid}/edit")
    no_overflow(tab)
