"""The plans, subscriptions and credits pages against hostile input, without a browser:
ids that are garbage or not the viewer's (404, never 500), amounts no ledger holds
(1e30, abc, NaN, Infinity, -0, seven decimals), NUL characters (400), a missing CSRF token
(403): each answered with a page naming the problem, nothing saved."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import httpx
import pytest

from modelyard.billing.credits import Adjustment
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.services import Registry
from tests.api.web.browser import ORIGIN, Browser, form, forms, text
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
    """Post ``fields`` to ``action`` as the page at ``page_path`` would, with its token."""
    page = await browser.get(page_path)
    assert page.status_code == 200, page.text
    token = next(f["fields"]["csrf_token"] for f in forms(page.text) if f["fields"])
    return await browser.client.post(
        action,
        data={"csrf_token": token} | fields,
        headers={"Origin": ORIGIN, "Referer": str(page.url)},
    )


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
    for path in (
        "/console/plans",
        "/console/plans/new",
        f"/console/plans/{pro.id}",
        "/console/subscriptions",
        "/console/subscriptions?status=active",
    ):
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


async def _subscriptions(registry: Registry) -> list[object]:
    return list((await registry.subscriptions.list(OPERATOR, PageRequest())).items)


@pytest.mark.parametrize(
    ("fields", "field", "status"),
    [
        ({"user_email": "", "plan_name": "pro"}, "user_email", 422),
        ({"user_email": "nobody@example.com", "plan_name": "pro"}, "user_email", 404),
        ({"user_email": "x" * 5000, "plan_name": "pro"}, "user_email", 404),
        ({"plan_name": "no-such-plan"}, "plan_name", 404),
        ({"plan_name": ""}, "plan_name", 422),
        ({"plan_name": "pro", "external_customer_id": "c" * 201}, "external_customer_id", 422),
    ],
)
async def test_a_bad_subscription_names_its_field_and_saves_nothing(
    admin_browser: Browser,
    registry: Registry,
    person: Person,
    fields: dict[str, str],
    field: str,
    status: int,
) -> None:
    data = {"user_email": person.email} | fields
    answer = await _post(admin_browser, "/console/subscriptions", "/console/subscriptions", data)
    assert answer.status_code == status, answer.text
    assert f'id="error-{field}"' in answer.text
    assert await _subscriptions(registry) == []


async def test_subscribe_twice_suspend_resume_cancel_and_renew(
    admin_browser: Browser, registry: Registry, person: Person
) -> None:
    data = {"user_email": person.email.upper(), "plan_name": "pro"}
    made = await _post(admin_browser, "/console/subscriptions", "/console/subscriptions", data)
    assert made.status_code == 303, made.text
    again = await _post(admin_browser, "/console/subscriptions", "/console/subscriptions", data)
    assert again.status_code == 409
    assert 'id="error-user_email"' in again.text
    (sub,) = (await registry.subscriptions.list(OPERATOR, PageRequest())).items
    listed = await admin_browser.get(f"/console/subscriptions?user={person.email}&status=active")
    assert person.email in text(listed.text)
    for change, status in (("suspend", "suspended"), ("resume", "active"), ("cancel", "cancelled")):
        url = f"/console/subscriptions/{sub.id}/{change}"
        done = await _post(admin_browser, "/console/subscriptions", url, {})
        assert done.status_code == 303, done.text
        assert (await registry.subscriptions.get(OPERATOR, sub.id)).status == status
    stale = await _post(
        admin_browser, "/console/subscriptions", f"/console/subscriptions/{sub.id}/suspend", {}
    )
    assert stale.status_code == 409
    assert "Nothing was changed" in text(stale.text)
    ran = await _post(admin_browser, "/console/subscriptions", "/console/subscriptions/renew", {})
    assert ran.status_code == 303
    shown = await admin_browser.get(ran.headers["location"])
    assert "Renewal run: 0 renewed, 0 cancelled, 0 expired." in text(shown.text)


@pytest.mark.parametrize(
    "path",
    [
        "/console/subscriptions?plan=nope",
        f"/console/subscriptions?plan={uuid.uuid4()}",
        "/console/subscriptions?status=gone",
    ],
)
async def test_garbage_filters_are_not_found(admin_browser: Browser, path: str) -> None:
    answer = await admin_browser.get(path)
    assert answer.status_code == 404, answer.text


async def test_odd_offsets_and_unknown_users_still_answer(admin_browser: Browser) -> None:
    for path in (
        "/console/subscriptions?offset=-5",
        "/console/subscriptions?offset=99999999999999999999999",
        "/console/subscriptions?offset=9223372036854775807",
        "/console/subscriptions?user=nobody%40example.com",
        "/console/subscriptions?user=a%00%40example.com",
        "/console/subscriptions?user=%ED%A0%80",
        "/console/credits?email=a%00%40example.com",
        "/console/credits?email=%00",
        "/console/credits?offset=abc",
    ):
        answer = await admin_browser.get(path)
        assert answer.status_code == 200, path


@pytest.mark.parametrize("garbage", GARBAGE)
async def test_changes_to_garbage_subscriptions_are_not_found(
    admin_browser: Browser, garbage: str
) -> None:
    for change in ("suspend", "cancel", "explode"):
        page = await admin_browser.get("/console/subscriptions")
        answer = await admin_browser.client.post(
            f"/console/subscriptions/{garbage}/{change}",
            data=form(page.text, "/console/subscriptions/renew"),
            headers={"Origin": ORIGIN},
        )
        assert answer.status_code == 404, (garbage, change, answer.text)


async def _ledger_size(registry: Registry, user_id: str) -> int:
    page = await registry.credits.ledger(OPERATOR, PageRequest(), uuid.UUID(user_id))
    return page.total


@pytest.mark.parametrize(
    ("action", "fields", "field", "status"),
    [
        ("grant", {"grant_amount": "1e30"}, "grant_amount", 422),
        ("grant", {"grant_amount": "abc"}, "grant_amount", 422),
        ("grant", {"grant_amount": "NaN"}, "grant_amount", 422),
        ("grant", {"grant_amount": "Infinity"}, "grant_amount", 422),
        ("grant", {"grant_amount": "-0"}, "grant_amount", 422),
        ("grant", {"grant_amount": "0"}, "grant_amount", 422),
        ("grant", {"grant_amount": "0.0000001"}, "grant_amount", 422),
        (
            "grant",
            {"grant_amount": "5", "grant_expires_at": "2001-01-01T00:00"},
            "grant_expires_at",
            422,
        ),
        ("grant", {"grant_amount": "5", "grant_expires_at": "soon"}, "grant_expires_at", 422),
        ("grant", {"grant_amount": "5", "grant_source": "plan"}, "grant_source", 422),
        ("grant", {"grant_amount": "5", "grant_reason": "r" * 501}, "grant_reason", 422),
        ("adjust", {"adjust_amount": "-0", "adjust_reason": "x"}, "adjust_amount", 422),
        ("adjust", {"adjust_amount": "0", "adjust_reason": "x"}, "adjust_amount", 422),
        ("adjust", {"adjust_amount": "-1e30", "adjust_reason": "x"}, "adjust_amount", 422),
        ("adjust", {"adjust_amount": "NaN", "adjust_reason": "x"}, "adjust_amount", 422),
        ("adjust", {"adjust_amount": "-Infinity", "adjust_reason": "x"}, "adjust_amount", 422),
        ("adjust", {"adjust_amount": "1.1234567", "adjust_reason": "x"}, "adjust_amount", 422),
        ("adjust", {"adjust_amount": "-5", "adjust_reason": "x"}, "adjust_amount", 409),
        ("adjust", {"adjust_amount": "5", "adjust_reason": ""}, "adjust_reason", 422),
    ],
)
async def test_bad_amounts_name_their_field_and_save_nothing(
    admin_browser: Browser,
    registry: Registry,
    person: Person,
    action: str,
    fields: dict[str, str],
    field: str,
    status: int,
) -> None:
    here = f"/console/credits?user_id={person.id}"
    base = {"user_id": person.id, "grant_source": "purchase"}
    answer = await _post(admin_browser, here, f"/console/credits/{action}", base | fields)
    assert answer.status_code == status, answer.text
    assert f'id="error-{field}"' in answer.text
    assert "Nothing was saved" in text(answer.text)
    assert await _ledger_size(registry, person.id) == 0


async def test_a_grant_and_an_adjustment_change_the_balance(
    admin_browser: Browser, registry: Registry, person: Person
) -> None:
    here = f"/console/credits?user_id={person.id}"
    fields = {
        "user_id": person.id,
        "grant_amount": "12.5",
        "grant_source": "purchase",
        "grant_expires_at": "2999-01-01T00:00",
        "grant_reason": "invoice 7",
    }
    granted = await _post(admin_browser, here, "/console/credits/grant", fields)
    assert granted.status_code == 303, granted.text
    taken = {"user_id": person.id, "adjust_amount": "-2.25", "adjust_reason": "refund"}
    adjusted = await _post(admin_browser, here, "/console/credits/adjust", taken)
    assert adjusted.status_code == 303, adjusted.text
    balance = await registry.credits.balance(OPERATOR, uuid.UUID(person.id))
    assert balance.balance == Decimal("10.25")
    assert balance.grants[0].expires_at is not None
    assert balance.grants[0].expires_at.year == 2999
    shown = text((await admin_browser.get(adjusted.headers["location"])).text)
    assert "The balance was adjusted." in shown
    assert "invoice 7" in shown
    assert "refund" in shown


@pytest.mark.parametrize("garbage", GARBAGE)
async def test_credits_of_garbage_users_are_not_found(admin_browser: Browser, garbage: str) -> None:
    answer = await admin_browser.get(f"/console/credits?user_id={garbage}")
    assert answer.status_code == 404, answer.text
    assert "Not found" in text(answer.text)
    page = await admin_browser.get("/logout")  # the sign-out form carries the token
    for action in ("grant", "adjust"):
        answer = await admin_browser.client.post(
            f"/console/credits/{action}",
            data={"csrf_token": _token(page.text), "user_id": garbage, f"{action}_amount": "5"},
            headers={"Origin": ORIGIN},
        )
        assert answer.status_code == 404, (garbage, answer.text)


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


async def test_members_see_their_own_credits_only(
    browser: Browser, person: Person, registry: Registry
) -> None:
    other = await make_person(registry)
    await browser.sign_in(person.email, person.password)
    mine = await browser.get("/console/credits")
    assert mine.status_code == 200
    assert "Your credits" in text(mine.text)
    assert "Grant credits" not in text(mine.text)
    assert (await browser.get(f"/console/credits?user_id={person.id}")).status_code == 200
    for garbage in (other.id, "nope", str(uuid.uuid4())):
        answer = await browser.get(f"/console/credits?user_id={garbage}")
        assert answer.status_code == 404, garbage
    token = _token((await browser.get("/logout")).text)
    for action in ("grant", "adjust"):
        answer = await browser.client.post(
            f"/console/credits/{action}",
            data={"csrf_token": token, "user_id": person.id, f"{action}_amount": "5"},
            headers={"Origin": ORIGIN},
        )
        assert answer.status_code == 404
    assert await _ledger_size(registry, person.id) == 0


async def test_credit_forms_need_their_token_and_refuse_nul(
    admin_browser: Browser, registry: Registry, person: Person
) -> None:
    page = await admin_browser.get(f"/console/credits?user_id={person.id}")
    fields = {"user_id": person.id, "adjust_amount": "5", "adjust_reason": "x"}
    answer = await admin_browser.client.post(
        "/console/credits/adjust", data=fields, headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 403
    nul = fields | {"csrf_token": _token(page.text), "adjust_reason": "a\x00b"}
    answer = await admin_browser.client.post(
        "/console/credits/adjust", data=nul, headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 400
    assert await _ledger_size(registry, person.id) == 0


async def test_the_balances_list_finds_users_by_email(
    admin_browser: Browser, person: Person
) -> None:
    listed = await admin_browser.get("/console/credits")
    assert person.email in text(listed.text)
    exact = await admin_browser.get(f"/console/credits?email={person.email.upper()}")
    assert exact.status_code == 303
    assert exact.headers["location"] == f"/console/credits?user_id={person.id}"
    part = await admin_browser.get("/console/credits?email=%25_nobody")
    assert part.status_code == 200
    assert "No user matches" in text(part.text)


async def test_a_later_ledger_page_carries_the_running_balance(
    admin_browser: Browser, registry: Registry, person: Person
) -> None:
    uid = uuid.UUID(person.id)
    for i in range(52):
        amount = Decimal(i + 1)
        await registry.credits.adjust(
            OPERATOR, Adjustment(user_id=uid, amount=amount, reason=f"step {i + 1}")
        )
    answer = await admin_browser.get(f"/console/credits?user_id={person.id}&offset=50")
    assert answer.status_code == 200
    shown = text(answer.text)
    assert "51\u201352 of 52" in shown
    # the two oldest entries (a positive adjustment is a grant): +2 leaving 3, +1 leaving 1
    assert re.search(r"grant 2\.00 3\.00 step 2 .* grant 1\.00 1\.00 step 1", shown)
    first = text((await admin_browser.get(f"/console/credits?user_id={person.id}")).text)
    total = sum(range(1, 53))
    assert re.search(rf"grant 52\.00 {total:,}\.00 step 52", first)
