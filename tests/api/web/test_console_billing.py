"""The plans, subscriptions and credits pages against hostile input, without a browser:
ids that are garbage or not the viewer's (404, never 500), amounts no ledger holds
(1e30, abc, NaN, Infinity, -0, seven decimals), NUL characters (400), a missing CSRF token
(403): each answered with a page naming the problem, nothing saved."""

from __future__ import annotations

import uuid

import httpx
import pytest

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.api.web.browser import ORIGIN, Browser, form, text
from tests.api.web.conftest import Person, make_person

OPERATOR = Actor.operator()
GARBAGE = ("nope", "0", "%00", "a%20b", "9" * 400, str(uuid.uuid4()))


@pytest.fixture
async def admin_browser(registry: Registry, browser: Browser) -> Browser:
    person = await make_person(registry, role="admin")
    await browser.sign_in(person.email, person.password)
    return browser


async def _post(
    browser: Browser, page_path: str, action: str, fields: dict[str, str]
) -> httpx.Response:
    page = await browser.get(page_path)
    assert page.status_code == 200, page.text
    return await browser.submit(page, action, fields)


def _plan_fields(**changes: str) -> dict[str, str]:
    return {
        "name": "hostile",
        "display_name": "",
        "monthly_credits": "10",
        "rollover": "none",
        "rollover_cap": "",
        "rpm_limit": "",
        "tpm_limit": "",
        "max_parallel": "",
        "allowed_models": "",
        "allowed_capabilities": "",
    } | changes


@pytest.mark.parametrize(
    ("changes", "field", "status"),
    [
        ({"monthly_credits": "1e30"}, "monthly_credits", 422),
        ({"monthly_credits": "abc"}, "monthly_credits", 422),
        ({"monthly_credits": "NaN"}, "monthly_credits", 422),
        ({"monthly_credits": "Infinity"}, "monthly_credits", 422),
        ({"monthly_credits": "-1"}, "monthly_credits", 422),
        ({"monthly_credits": "0.0000001"}, "monthly_credits", 422),
        ({"rpm_limit": "1e30"}, "rpm_limit", 422),
        ({"rpm_limit": "99999999999999999999"}, "rpm_limit", 422),
        ({"max_parallel": "0"}, "max_parallel", 422),
        ({"rollover": "capped"}, "rollover_cap", 422),
        ({"rollover": "sideways"}, "rollover", 422),
        ({"name": "Has Spaces"}, "name", 422),
        ({"name": "pro"}, "name", 409),
    ],
)
async def test_a_bad_plan_names_its_field_and_saves_nothing(
    admin_browser: Browser,
    registry: Registry,
    changes: dict[str, str],
    field: str,
    status: int,
) -> None:
    before = await registry.plans.list(OPERATOR, include_inactive=True)
    answer = await _post(
        admin_browser, "/console/plans/new", "/console/plans/new", _plan_fields(**changes)
    )
    assert answer.status_code == status, answer.text
    assert f'id="error-{field}"' in answer.text
    assert "Nothing was saved" in text(answer.text)
    assert await registry.plans.list(OPERATOR, include_inactive=True) == before


async def test_a_plan_is_made_changed_retired_and_reactivated(
    admin_browser: Browser, registry: Registry
) -> None:
    fields = _plan_fields(
        rollover="capped", rollover_cap="5", rpm_limit="60", allowed_models="a\nb, c"
    )
    made = await _post(admin_browser, "/console/plans/new", "/console/plans/new", fields)
    assert made.status_code == 303, made.text
    plan = await registry.plans.get(OPERATOR, "hostile")
    assert (plan.rollover_cap, plan.rpm_limit, plan.allowed_models) == (5, 60, ["a", "b", "c"])
    edit = f"/console/plans/{plan.id}"
    saved = await _post(admin_browser, edit, edit, _plan_fields(rollover="full", rpm_limit=""))
    assert saved.status_code == 303, saved.text
    plan = await registry.plans.get(OPERATOR, "hostile")
    assert (plan.rollover, plan.rollover_cap, plan.rpm_limit) == ("full", None, None)
    retired = await _post(admin_browser, "/console/plans", f"{edit}/retire", {})
    assert retired.status_code == 303
    assert not (await registry.plans.get(OPERATOR, "hostile")).active
    back = await _post(admin_browser, "/console/plans", f"{edit}/activate", {})
    assert back.status_code == 303
    assert (await registry.plans.get(OPERATOR, "hostile")).active


@pytest.mark.parametrize("garbage", GARBAGE)
async def test_garbage_plan_ids_are_not_found(admin_browser: Browser, garbage: str) -> None:
    answer = await admin_browser.get(f"/console/plans/{garbage}")
    assert answer.status_code == 404, answer.text
    assert "Not found" in text(answer.text)


async def test_members_find_no_admin_pages(
    browser: Browser, person: Person, registry: Registry
) -> None:
    await browser.sign_in(person.email, person.password)
    pro = await registry.plans.get(OPERATOR, "pro")
    for path in ("/console/plans", "/console/plans/new", f"/console/plans/{pro.id}"):
        answer = await browser.get(path)
        assert answer.status_code == 404, path
        assert "Not found" in text(answer.text)


async def test_plan_forms_without_a_token_or_with_nul_save_nothing(
    admin_browser: Browser, web_client: httpx.AsyncClient, registry: Registry
) -> None:
    before = await registry.plans.list(OPERATOR, include_inactive=True)
    page = await admin_browser.get("/console/plans/new")
    fields = form(page.text, "/console/plans/new") | _plan_fields()
    headers = {"Origin": ORIGIN}
    no_token = {k: v for k, v in fields.items() if k != "csrf_token"}
    answer = await web_client.post("/console/plans/new", data=no_token, headers=headers)
    assert answer.status_code == 403
    nul = fields | {"display_name": "a\x00b"}
    answer = await web_client.post("/console/plans/new", data=nul, headers=headers)
    assert answer.status_code == 400
    assert await registry.plans.list(OPERATOR, include_inactive=True) == before
