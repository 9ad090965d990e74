"""The Infrastructure panel in a real browser, as an admin: the default model for a
purpose chosen from the active system models, the retry schedule edited as JSON (an error
names its path, nothing saved), the deprecated-model policy, reset to default; members
get 404. The page passes axe-core at laptop width and fits a phone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import axe_clean, no_overflow
from tests.support.console_site import Person, Site
from tests.support.mock_openai import GOOD_KEY

URL = "/console/infrastructure"


@pytest.fixture(scope="module")
def models(site: Site) -> list[str]:
    provider = site.api(
        "POST",
        "/api/v1/providers",
        json={
            "name": "infra",
            "kind": "openai",
            "api_key": GOOD_KEY,
            "base_url": site.upstream.url,
        },
    ).json()
    refs = []
    for name in ("chatty", "expander", "retired"):
        made = site.api(
            "POST", "/api/v1/models", json={"provider_id": provider["id"], "model_id": name}
        ).json()
        refs.append(f"infra/{name}")
        if name == "retired":
            site.api("POST", f"/api/v1/models/{made['id']}/deprecate")
    return refs


def setting(site: Site, key: str) -> dict[str, Any]:
    found: dict[str, Any] = site.api("GET", f"/api/v1/settings/{key}").json()
    return found


def card(page: Page, key: str) -> Any:
    return page.locator(f"#s-{key.replace('.', '-')}")


def test_admin_sets_the_default_model_per_purpose(
    admin_page: Page, site: Site, models: list[str]
) -> None:
    admin_page.goto(URL)
    purposes = admin_page.get_by_role("region", name="Default model for each purpose")
    expect(purposes.get_by_role("heading", level=3)).to_have_count(3)
    axe_clean(admin_page)
    chat = admin_page.get_by_label("defaults.chat_model", exact=True)
    expect(chat.locator("option", has_text="infra/retired")).to_have_count(0)  # deprecated
    chat.select_option("infra/chatty")
    admin_page.get_by_role("button", name="Save defaults.chat_model").click()
    expect(admin_page.get_by_role("status")).to_have_text("The setting was saved.")
    expect(admin_page.get_by_label("defaults.chat_model", exact=True)).to_have_value("infra/chatty")
    assert setting(site, "defaults.chat_model")["value"] == "infra/chatty"

    expansion = admin_page.get_by_label("defaults.scenario_expansion_model", exact=True)
    expansion.select_option("infra/expander")
    admin_page.get_by_role("button", name="Save defaults.scenario_expansion_model").click()
    expect(admin_page.get_by_role("status")).to_have_text("The setting was saved.")
    assert setting(site, "defaults.scenario_expansion_model")["value"] == "infra/expander"

    admin_page.get_by_role("button", name="Reset defaults.chat_model to its default").click()
    expect(admin_page.get_by_role("status")).to_have_text("The setting is back to its default.")
    assert setting(site, "defaults.chat_model")["is_set"] is False


def test_the_retry_schedule_with_an_error_first(admin_page: Page, site: Site) -> None:
    admin_page.goto(URL)
    retry = card(admin_page, "gateway.retry")
    expect(retry).to_contain_text("Retry schedule for rate-limited or failed upstream calls.")
    editor = admin_page.get_by_label("gateway.retry", exact=True)
    bad = '{"max_attempts": 4, "schedule_ms": [30000, -1]}'
    editor.fill(bad)
    admin_page.get_by_role("button", name="Save gateway.retry").click()

    error = retry.locator(".field-error")
    expect(error).to_contain_text("schedule_ms")
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(editor).to_have_value(bad)  # what was typed, kept
    assert setting(site, "gateway.retry")["is_set"] is False
    axe_clean(admin_page)

    editor.fill('{"max_attempts": 4, "schedule_ms": [30000, 60000, 90000, 120000]}')
    admin_page.get_by_role("button", name="Save gateway.retry").click()
    expect(admin_page.get_by_role("status")).to_have_text("The setting was saved.")
    saved = setting(site, "gateway.retry")["value"]
    assert saved["schedule_ms"] == [30000, 60000, 90000, 120000]


def test_bad_values_are_named_beside_their_control(admin_page: Page, site: Site) -> None:
    admin_page.goto(URL)
    tokens = admin_page.get_by_label("billing.worst_case_completion_tokens", exact=True)
    tokens.fill(str(10**30))
    admin_page.get_by_role("button", name="Save billing.worst_case_completion_tokens").click()
    expect(
        card(admin_page, "billing.worst_case_completion_tokens").locator(".field-error")
    ).to_contain_text("less than or equal to 10000000")
    assert setting(site, "billing.worst_case_completion_tokens")["is_set"] is False

    editor = admin_page.get_by_label("gateway.retry", exact=True)
    editor.fill("{not json")
    admin_page.get_by_role("button", name="Save gateway.retry").click()
    expect(card(admin_page, "gateway.retry").locator(".field-error")).to_contain_text(
        "not valid JSON"
    )


def test_the_deprecated_model_policy(admin_page: Page, site: Site) -> None:
    admin_page.goto(f"{URL}#deprecated")
    policy = admin_page.get_by_label("models.deprecated_policy", exact=True)
    expect(policy).to_have_value("warn")
    policy.select_option("reject")
    admin_page.get_by_role("button", name="Save models.deprecated_policy").click()
    expect(admin_page.get_by_role("status")).to_have_text("The setting was saved.")
    assert setting(site, "models.deprecated_policy")["value"] == "reject"
    site.api("DELETE", "/api/v1/settings/models.deprecated_policy")


def test_members_get_404(member_page: Page) -> None:
    answer = member_page.goto(URL)
    assert answer is not None
    assert answer.status == 404
    expect(member_page.get_by_role("heading", level=1)).to_have_text("Not found")


def test_the_page_fits_a_phone(phone: Callable[[Person], Page], site: Site) -> None:
    tab = phone(site.admin)
    tab.goto(URL)
    expect(tab.get_by_role("heading", level=1)).to_have_text("Infrastructure")
    no_overflow(tab)
