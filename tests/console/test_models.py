"""The Models panel in a real browser, as an admin: add a model (an inline error first,
nothing saved), edit it, schedule a price, deprecate it after a confirmation naming what
uses it, reactivate it, make it the default, delete it; members find none of these pages.
Every page passes axe-core at laptop width and fits a phone."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import axe_clean, no_overflow
from tests.support.console_site import Person, Site
from tests.support.mock_openai import GOOD_KEY

INPUT = "Input per million tokens (required)"  # the schedule form's


@pytest.fixture(scope="module")
def provider(site: Site) -> dict[str, Any]:
    made = site.api(
        "POST",
        "/api/v1/providers",
        json={
            "name": "upstream",
            "kind": "openai",
            "api_key": GOOD_KEY,
            "base_url": site.upstream.url,
        },
    )
    answer: dict[str, Any] = made.json()
    return answer


def make_model(
    site: Site, provider: dict[str, Any], model_id: str, **fields: Any
) -> dict[str, Any]:
    made = site.api(
        "POST",
        "/api/v1/models",
        json={"provider_id": provider["id"], "model_id": model_id, **fields},
    )
    answer: dict[str, Any] = made.json()
    return answer


def models_named(site: Site, provider: dict[str, Any], model_id: str) -> list[dict[str, Any]]:
    found = site.api("GET", "/api/v1/models", params={"provider_id": provider["id"], "limit": 500})
    return [m for m in found.json()["items"] if m["model_id"] == model_id]


def field_error(page: Page, label: str) -> Any:
    """The error shown beside the field labelled ``label`` (tied to it by aria-describedby)."""
    control = page.get_by_label(label, exact=True)
    expect(control).to_have_attribute("aria-invalid", "true")
    ids = control.get_attribute("aria-describedby") or ""
    error = next(i for i in ids.split() if i.startswith("error-"))
    return page.locator(f"#{error}")


def test_admin_adds_a_model_after_an_inline_error(
    admin_page: Page, site: Site, provider: dict[str, Any]
) -> None:
    admin_page.goto(f"/console/models/new?provider={provider['id']}")
    expect(admin_page.get_by_label("Provider")).to_have_value(provider["id"])
    admin_page.get_by_label("Model id").fill("console-model")
    admin_page.get_by_label("Context window (tokens)").fill("-5")
    admin_page.get_by_label("Input per million tokens", exact=True).fill("1.5")
    admin_page.get_by_label("Output per million tokens").fill("2")
    admin_page.get_by_role("button", name="Add the model").click()

    expect(admin_page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(field_error(admin_page, "Context window (tokens)")).to_contain_text("greater than")
    expect(admin_page.get_by_label("Model id")).to_have_value("console-model")  # kept
    assert models_named(site, provider, "console-model") == []
    axe_clean(admin_page)

    admin_page.get_by_label("Context window (tokens)").fill(str(2**31))  # past int32
    admin_page.get_by_role("button", name="Add the model").click()
    expect(field_error(admin_page, "Context window (tokens)")).to_contain_text("less than")
    assert models_named(site, provider, "console-model") == []

    admin_page.get_by_label("Context window (tokens)").fill("128000")
    admin_page.get_by_label("vision").check()
    admin_page.get_by_role("button", name="Add the model").click()

    expect(admin_page.get_by_role("status")).to_have_text("The model was added.")
    expect(admin_page.get_by_role("heading", level=1)).to_have_text("console-model")
    [saved] = models_named(site, provider, "console-model")
    assert saved["context_window"] == 128000
    assert saved["capabilities"] == ["text", "vision"]
    assert (saved["price"]["input_per_mtok"], saved["price"]["output_per_mtok"]) == ("1.5", "2")


def test_a_taken_name_is_named_beside_the_field(
    admin_page: Page, site: Site, provider: dict[str, Any]
) -> None:
    make_model(site, provider, "taken")
    admin_page.goto(f"/console/models/new?provider={provider['id']}")
    admin_page.get_by_label("Model id").fill("taken")
    admin_page.get_by_role("button", name="Add the model").click()
    expect(field_error(admin_page, "Model id (required)")).to_contain_text(
        "already has model 'taken'"
    )
    assert len(models_named(site, provider, "taken")) == 1


def test_admin_edits_a_model(admin_page: Page, site: Site, provider: dict[str, Any]) -> None:
    model = make_model(site, provider, "editable")
    admin_page.goto(f"/console/models/{model['id']}")
    admin_page.get_by_role("link", name="Edit", exact=True).click()
    admin_page.get_by_label("Display name").fill("Editable model")
    admin_page.get_by_label("Max output tokens").fill("abc")
    admin_page.get_by_role("button", name="Save changes").click()
    expect(field_error(admin_page, "Max output tokens")).to_contain_text("valid integer")
    assert site.api("GET", f"/api/v1/models/{model['id']}").json()["display_name"] == "editable"
    axe_clean(admin_page)

    admin_page.get_by_label("Max output tokens").fill("4096")
    admin_page.get_by_label("Fallbacks").fill("upstream/taken\n")
    admin_page.get_by_role("button", name="Save changes").click()
    expect(admin_page.get_by_role("status")).to_have_text("The model was saved.")
    saved = site.api("GET", f"/api/v1/models/{model['id']}").json()
    assert (saved["display_name"], saved["max_output_tokens"]) == ("Editable model", 4096)
    assert saved["fallbacks"] == ["upstream/taken"]


def test_admin_schedules_a_price(admin_page: Page, site: Site, provider: dict[str, Any]) -> None:
    model = make_model(
        site, provider, "priced", price={"input_per_mtok": "1", "output_per_mtok": "2"}
    )
    admin_page.goto(f"/console/models/{model['id']}")
    form = admin_page.get_by_role("form", name="Schedule a price")
    form.get_by_label(INPUT, exact=True).fill("-1")
    form.get_by_label("Output per million tokens").fill("4")
    form.get_by_role("button", name="Schedule the price").click()
    expect(field_error(admin_page, INPUT)).to_contain_text("greater than")
    assert len(site.api("GET", f"/api/v1/models/{model['id']}/prices").json()) == 1

    form.get_by_label(INPUT, exact=True).fill("3")
    form.get_by_label("Effective from (UTC)").fill("2030-01-01T00:00")
    form.get_by_role("button", name="Schedule the price").click()

    expect(admin_page.get_by_role("status")).to_have_text("The price was scheduled.")
    rows = admin_page.get_by_role("region", name="Price history").get_by_role("row")
    expect(rows).to_have_count(3)  # the header, then oldest to newest
    expect(rows.nth(1)).to_contain_text("in force")
    expect(rows.nth(2)).to_contain_text("2030-01-01 00:00 UTC")
    expect(rows.nth(2)).to_contain_text("scheduled")
    prices = site.api("GET", f"/api/v1/models/{model['id']}/prices").json()
    assert [(p["input_per_mtok"], p["effective_from"][:10]) for p in prices][1] == (
        "3",
        "2030-01-01",
    )
    axe_clean(admin_page)


def test_deprecate_says_what_uses_the_model_then_reactivate(
    admin_page: Page, site: Site, provider: dict[str, Any]
) -> None:
    model = make_model(site, provider, "popular")
    site.api("PUT", "/api/v1/settings/defaults.chat_model", json={"value": "upstream/popular"})
    made = site.api(
        "POST",
        "/api/v1/keys",
        json={"name": "prefs", "user_id": site.member.user_id, "scopes": ["registry.write"]},
    )
    member_key = made.json()["key"]
    site.api(
        "PUT",
        "/api/v1/users/me/preferences",
        key=member_key,
        json={"default_model_id": model["id"]},
    )
    admin_page.goto(f"/console/models/{model['id']}")
    admin_page.get_by_role("link", name="Deprecate…").click()

    expect(admin_page.get_by_role("heading", level=1)).to_have_text("Deprecate popular?")
    uses = admin_page.locator("ul.uses")
    expect(uses).to_contain_text("defaults.chat_model")
    expect(uses).to_contain_text("the default for chat")
    expect(uses).to_contain_text(site.member.email)
    expect(admin_page.get_by_text("The deprecated-model policy is warn")).to_be_visible()
    axe_clean(admin_page)
    assert site.api("GET", f"/api/v1/models/{model['id']}").json()["status"] == "ACTIVE"

    admin_page.get_by_role("button", name="Deprecate popular").click()
    expect(admin_page.get_by_role("status")).to_have_text("The model is deprecated.")
    assert site.api("GET", f"/api/v1/models/{model['id']}").json()["status"] == "DEPRECATED"

    admin_page.get_by_role("button", name="Reactivate").click()
    expect(admin_page.get_by_role("status")).to_have_text("The model is active again.")
    assert site.api("GET", f"/api/v1/models/{model['id']}").json()["status"] == "ACTIVE"
    site.api("DELETE", "/api/v1/settings/defaults.chat_model")


def test_set_default_from_the_table_and_filters(
    admin_page: Page, site: Site, provider: dict[str, Any]
) -> None:
    model = make_model(site, provider, "table-default")
    admin_page.goto("/console/models?q=table-default")
    table = admin_page.get_by_role("region", name="Models by provider")
    expect(table.get_by_role("row")).to_have_count(3)  # columns, the provider, the model
    axe_clean(admin_page)
    table.get_by_role("button", name="Make upstream/table-default the default model").click()

    expect(admin_page.get_by_role("status")).to_have_text("The model is now the system default.")
    expect(admin_page).to_have_url(
        f"{site.base}/console/models?q=table-default&offset=0&done=default"
    )
    expect(table.get_by_role("cell", name="Default", exact=True)).to_be_visible()
    assert site.api("GET", f"/api/v1/models/{model['id']}").json()["is_default"] is True

    admin_page.goto("/console/models?status=DEPRECATED&q=table-default")
    expect(admin_page.get_by_text("No models match.")).to_be_visible()


def test_set_default_from_the_model_page(
    admin_page: Page, site: Site, provider: dict[str, Any]
) -> None:
    model = make_model(site, provider, "page-default")
    admin_page.goto(f"/console/models/{model['id']}")
    admin_page.get_by_role("button", name="Set as default").click()
    expect(admin_page.get_by_role("status")).to_have_text("The model is now the system default.")
    expect(admin_page.get_by_text("System default", exact=True)).to_be_visible()
    expect(admin_page.get_by_role("button", name="Set as default")).to_have_count(0)
    assert site.api("GET", f"/api/v1/models/{model['id']}").json()["is_default"] is True


def test_admin_deletes_a_model_after_confirming(
    admin_page: Page, site: Site, provider: dict[str, Any]
) -> None:
    model = make_model(site, provider, "doomed")
    admin_page.goto(f"/console/models/{model['id']}")
    admin_page.once("dialog", lambda dialog: dialog.dismiss())
    admin_page.get_by_role("button", name="Delete").click()
    assert len(models_named(site, provider, "doomed")) == 1
    admin_page.once("dialog", lambda dialog: dialog.accept())
    admin_page.get_by_role("button", name="Delete").click()
    expect(admin_page.get_by_role("status")).to_have_text("The model was deleted.")
    assert models_named(site, provider, "doomed") == []


def test_unknown_and_garbage_ids_are_not_found(admin_page: Page) -> None:
    for ident in ("00000000-0000-0000-0000-000000000000", "garbage", "%27%22%3E"):
        for suffix in ("", "/edit", "/deprecate"):
            answer = admin_page.goto(f"/console/models/{ident}{suffix}")
            assert answer is not None
            assert answer.status == 404
            expect(admin_page.get_by_role("heading", level=1)).to_have_text("Not found")


def urls(site: Site, provider: dict[str, Any]) -> list[str]:
    model = make_model(site, provider, f"seen-{uuid.uuid4().hex[:8]}")
    return [
        "/console/models",
        "/console/models/new",
        f"/console/models/{model['id']}",
        f"/console/models/{model['id']}/edit",
        f"/console/models/{model['id']}/deprecate",
    ]


def test_members_get_404_everywhere(
    member_page: Page, site: Site, provider: dict[str, Any]
) -> None:
    for url in urls(site, provider):
        answer = member_page.goto(url)
        assert answer is not None
        assert answer.status == 404, url
        expect(member_page.get_by_role("heading", level=1)).to_have_text("Not found")


def test_every_page_passes_axe_and_fits_a_phone(
    admin_page: Page, phone: Callable[[Person], Page], site: Site, provider: dict[str, Any]
) -> None:
    tab = phone(site.admin)
    for url in urls(site, provider):
        admin_page.goto(url)
        axe_clean(admin_page)
        tab.goto(url)
        expect(tab.get_by_role("heading", level=1)).to_be_visible()
        no_overflow(tab)
