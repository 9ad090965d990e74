"""Sign-in throttling: failures counted per account and per address within a window, a
clear message saying which and when, the same for unknown emails as for known ones."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from modelyard.db.auth_tables import LoginFailure
from modelyard.registry import passwords
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.api.web.browser import Browser, form, text
from tests.api.web.conftest import Person, make_person

OPERATOR = Actor.operator()
WRONG = "not the right password"


async def _limits(registry: Registry, **limits: int) -> None:
    value = {"per_account": 3, "per_address": 100, "window_s": 600} | limits
    await registry.settings.set(OPERATOR, "auth.login_throttle", value)


async def test_an_account_is_throttled_after_its_failures(
    browser: Browser, registry: Registry, person: Person
) -> None:
    await _limits(registry)
    for _ in range(3):
        assert (await browser.sign_in(person.email, WRONG)).status_code == 401
    refused = await browser.sign_in(person.email, person.password)  # even the right one
    assert refused.status_code == 429
    assert 580 <= int(refused.headers["retry-after"]) <= 600  # from the first failure
    assert "too many failed sign-ins for this account; try again in 10 minutes" in text(
        refused.text
    )
    assert 'role="alert"' in refused.text
    assert form(refused.text, "/login")["csrf_token"]  # the form is there to try later
    other = await make_person(registry)
    assert (await browser.sign_in(other.email, other.password)).status_code == 303


async def test_the_window_passes(browser: Browser, registry: Registry, person: Person) -> None:
    await _limits(registry)
    for _ in range(3):
        await browser.sign_in(person.email, WRONG)
    assert (await browser.sign_in(person.email, person.password)).status_code == 429
    async with registry.db.write(OPERATOR) as tx:  # the oldest failure leaves the window
        oldest = await tx.session.scalar(select(LoginFailure).order_by(LoginFailure.at).limit(1))
        assert oldest is not None
        await tx.session.execute(
            update(LoginFailure)
            .where(LoginFailure.id == oldest.id)
            .values(at=oldest.at - timedelta(seconds=600))
        )
    assert (await browser.sign_in(person.email, person.password)).status_code == 303


async def test_success_forgets_the_accounts_failures(
    browser: Browser, web_client: httpx.AsyncClient, registry: Registry, person: Person
) -> None:
    await _limits(registry)
    for _ in range(2):
        await browser.sign_in(person.email, WRONG)
    assert (await browser.sign_in(person.email, person.password)).status_code == 303
    web_client.cookies.clear()
    for _ in range(2):
        assert (await browser.sign_in(person.email, WRONG)).status_code == 401
    assert (await browser.sign_in(person.email, person.password)).status_code == 303


async def test_an_address_is_throttled_across_accounts(
    browser: Browser, registry: Registry, person: Person
) -> None:
    await _limits(registry, per_account=100, per_address=4, window_s=60)
    for n in range(4):
        assert (await browser.sign_in(f"guess{n}@example.com", WRONG)).status_code == 401
    refused = await browser.sign_in(person.email, person.password)
    assert refused.status_code == 429
    assert re.search(r"from this address; try again in (?:[45]\d|60) seconds", text(refused.text))


async def test_unknown_emails_are_counted_and_timed_like_known_ones(
    browser: Browser, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _limits(registry)
    verified: list[str] = []
    real = passwords.HASHER

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def verify(self, stored: str, password: str) -> bool:
            verified.append(password)
            return real.verify(stored, password)

    monkeypatch.setattr(passwords, "HASHER", Spy())
    for _ in range(3):
        answer = await browser.sign_in("nobody@example.com", WRONG)
        assert answer.status_code == 401
        assert "Wrong email or password." in text(answer.text)
    assert verified == [WRONG] * 3  # an argon2 verification each time, as for a real user
    assert (await browser.sign_in("Nobody@Example.com", WRONG)).status_code == 429


async def test_concurrent_guesses_cannot_pass_the_limit(
    browser: Browser, registry: Registry, person: Person
) -> None:
    await _limits(registry)
    pages = [await browser.get("/login") for _ in range(8)]
    answers = await asyncio.gather(
        *(browser.submit(p, "/login", {"email": person.email, "password": WRONG}) for p in pages)
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * 3 + [429] * 5
