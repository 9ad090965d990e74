"""The console's frame without a browser: no page without a session (back to it after
signing in), the headers every console page sends, navigation by role, and the helpers that
turn domain errors into form errors and write amounts."""

from __future__ import annotations

from decimal import Decimal

import httpx

from modelyard.api.web.console.filters import money, number
from modelyard.api.web.console.form_errors import form_errors
from modelyard.api.web.console.render import NAV
from modelyard.errors import Conflict, ValidationFailed
from modelyard.services import Registry
from tests.api.web.browser import Browser, text
from tests.api.web.conftest import Person, make_person


async def test_signed_out_is_sent_to_sign_in_and_back(web_client: httpx.AsyncClient) -> None:
    answer = await web_client.get("/console?range=7")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fconsole%3Frange%3D7"


async def test_a_console_page_and_its_headers(browser: Browser, person: Person) -> None:
    signed = await browser.sign_in(person.email, person.password)
    assert signed.headers["location"] == "/console"
    answer = await browser.get("/console")
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert '<script src="/static/console.js" defer></script>' in answer.text


async def test_members_get_their_navigation_and_admins_all(
    browser: Browser, person: Person, registry: Registry
) -> None:
    await browser.sign_in(person.email, person.password)
    seen = text((await browser.get("/console")).text)
    for item in NAV:
        assert (item.label in seen) != item.admin, item.label
    admin = await make_person(registry, role="admin")
    await browser.client.get("/logout")
    browser.client.cookies.clear()
    await browser.sign_in(admin.email, admin.password)
    seen = text((await browser.get("/console")).text)
    assert all(item.label in seen for item in NAV)


def test_validation_paths_become_field_errors() -> None:
    exc = ValidationFailed(
        "bad",
        details={
            "errors": [
                {"path": "context_window", "message": "must be at least 1"},
                {"path": "price.input_per_mtok", "message": "must not be negative"},
                {"path": "other", "message": "unknown"},
            ]
        },
    )
    errors = form_errors(exc, {"context_window": "context_window", "price": "input_price"})
    assert errors.get("context_window") == "must be at least 1"
    assert errors.get("input_price") == "must not be negative"
    assert errors.general == ["other: unknown"]
    conflict = form_errors(Conflict("name taken", code="NAME_TAKEN"), about="name")
    assert conflict.fields == {"name": "name taken"}
    assert not conflict.general


def test_amounts_are_written_exactly() -> None:
    assert money(Decimal("0.0000001234"), "USD") == "0.00 USD"
    assert money(Decimal("1234.5"), "USD") == "1,234.50 USD"
    assert money(Decimal("0.000123")) == "0.000123"
    assert money(None) == "—"
    assert number(1234567) == "1,234,567"
    assert number(Decimal("12345.678")) == "12,345.678"
