"""The /device page: a signed-in person approves or denies a device's sign-in (RFC 8628)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from modelyard.db.auth_tables import OAuthClient
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.api.web.browser import Browser, form, text
from tests.api.web.conftest import Person
from tests.support.client_rows import Clock, add_client

SCOPES = ["llm.inference", "models.read"]


@pytest.fixture
def clock(registry: Registry) -> Clock:
    moved = Clock()
    registry.db.clock = moved
    return moved


async def _started(registry: Registry, name: str = "cli") -> tuple[str, str]:
    client, _ = await add_client(registry, name)
    start = await registry.oauth_devices.start(client, SCOPES)
    return start.user_code, start.device_code


async def _poll(registry: Registry, device_code: str, name: str = "cli") -> str:
    async with registry.db.read(Actor.operator()) as tx:
        client = await tx.session.scalar(select(OAuthClient).where(OAuthClient.client_id == name))
    assert client is not None
    return (await registry.oauth_devices.poll(client, device_code)).outcome


async def test_the_page_needs_a_session_and_keeps_the_code(browser: Browser) -> None:
    answer = await browser.get("/device?user_code=BDWP-HQPK")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fdevice%3Fuser_code%3DBDWP-HQPK"


async def test_entering_the_code_then_approving(
    browser: Browser, registry: Registry, person: Person, clock: Clock
) -> None:
    user_code, device_code = await _started(registry)
    signed = await browser.sign_in(person.email, person.password, "/device")
    assert signed.headers["location"] == "/device"
    entry = await browser.get("/device")
    assert entry.status_code == 200
    assert 'name="user_code"' in entry.text

    typed = user_code.lower().replace("-", " ")
    review = await browser.get(f"/device?user_code={typed}")
    assert review.status_code == 200
    shown = text(review.text)
    assert "Cli (cli) asks to use your modelyard account" in shown
    assert "Call models for you" in shown
    assert "See which models you may use" in shown
    assert form(review.text, "/device")["user_code"] == user_code

    done = await browser.submit(review, "/device", {"decision": "approve"})
    assert done.status_code == 200
    assert "Cli is connected to your account" in text(done.text)
    assert await _poll(registry, device_code) == "approved"
    apps = await browser.get("/account/apps")
    assert "Cli" in text(apps.text)  # revocable like any connected app


async def test_denying(browser: Browser, registry: Registry, person: Person, clock: Clock) -> None:
    user_code, device_code = await _started(registry)
    await browser.sign_in(person.email, person.password)
    review = await browser.get(f"/device?user_code={user_code}")
    done = await browser.submit(review, "/device", {"decision": "deny"})
    assert done.status_code == 200
    assert "You refused Cli" in text(done.text)
    assert await _poll(registry, device_code) == "denied"
    again = await browser.submit(review, "/device", {"decision": "approve"})
    assert again.status_code == 404
    assert await _poll(registry, device_code) == "denied"


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"}],
)
async def test_a_forged_form_changes_nothing(
    browser: Browser,
    web_client: httpx.AsyncClient,
    registry: Registry,
    person: Person,
    clock: Clock,
    headers: dict[str, str],
) -> None:
    user_code, device_code = await _started(registry)
    await browser.sign_in(person.email, person.password)
    review = await browser.get(f"/device?user_code={user_code}")
    fields = form(review.text, "/device") | {"decision": "approve"}
    forged = await web_client.post("/device", data=fields, headers=headers)
    assert forged.status_code == 403
    tokenless = {k: v for k, v in fields.items() if k != "csrf_token"}
    missing = await web_client.post("/device", data=tokenless)
    assert missing.status_code == 403
    assert await _poll(registry, device_code) == "pending"


async def test_signed_out_posts_go_to_sign_in(
    web_client: httpx.AsyncClient, registry: Registry, clock: Clock
) -> None:
    user_code, device_code = await _started(registry)
    answer = await web_client.post("/device", data={"user_code": user_code, "decision": "approve"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")
    assert await _poll(registry, device_code) == "pending"


@pytest.mark.parametrize(
    "typed", ["BCDF-GHJK", "nonsense", "x" * 5000, "BDWP-HQP\u0000K", "<script>"]
)
async def test_unknown_or_hostile_codes_get_a_plain_404(
    browser: Browser, person: Person, typed: str
) -> None:
    await browser.sign_in(person.email, person.password)
    page = await browser.client.get("/device", params={"user_code": typed})
    assert page.status_code == 404
    assert "unknown, expired or already used" in text(page.text)
    assert "<script>" not in page.text


async def test_expired_and_bad_decisions(
    browser: Browser, registry: Registry, person: Person, clock: Clock
) -> None:
    user_code, device_code = await _started(registry)
    await browser.sign_in(person.email, person.password)
    review = await browser.get(f"/device?user_code={user_code}")
    odd = await browser.submit(review, "/device", {"decision": "maybe"})
    assert odd.status_code == 400
    clock.advance(901)
    late = await browser.submit(review, "/device", {"decision": "approve"})
    assert late.status_code == 404
    assert await _poll(registry, device_code) == "expired"


async def test_the_client_name_is_escaped(
    browser: Browser, registry: Registry, person: Person, clock: Clock
) -> None:
    user_code, _ = await _started(registry, "x-<b>bold</b>")
    await browser.sign_in(person.email, person.password)
    review = await browser.get(f"/device?user_code={user_code}")
    assert "<b>" not in review.text
    assert "&lt;b&gt;" in review.text


async def test_guessing_codes_is_throttled(
    browser: Browser, registry: Registry, person: Person, clock: Clock
) -> None:
    user_code, device_code = await _started(registry)
    await browser.sign_in(person.email, person.password)
    review = await browser.get(f"/device?user_code={user_code}")
    for _ in range(10):
        assert (await browser.get("/device?user_code=BCDF-GHJK")).status_code == 404
    refused = await browser.get(f"/device?user_code={user_code}")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "900"
    assert "too many wrong codes. Try again in 15 minutes" in text(refused.text)
    posted = await browser.submit(review, "/device", {"decision": "approve"})
    assert posted.status_code == 429
    assert await _poll(registry, device_code) == "pending"
