"""Time and change: codes and tokens expire by the auth.* settings, racing refreshes cannot
both win, and disabling a client stops everything it holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from modelyard.db.types import utcnow
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_clients import OAuthClientUpdate
from modelyard.services import Registry
from tests.api.oauth.flows import App, Browser
from tests.api.web.conftest import Person

SCOPE = "openid email llm.inference"


class Clock:
    """The registry's clock, moved forward by the test."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


@pytest.fixture
def clock(registry: Registry) -> Clock:
    moved = Clock()
    registry.db.clock = moved
    return moved


async def _location(desktop: App, browser: Browser, person: Person) -> str:
    page = await browser.visit(desktop.authorize_url(SCOPE), person)
    answer = page if page.status_code == 302 else await browser.consent(page)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])


async def _tokens(desktop: App, browser: Browser, person: Person) -> dict[str, Any]:
    answer = await desktop.exchange(await _location(desktop, browser, person))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _userinfo(desktop: App, token: str) -> Callable[[], Any]:
    return lambda: desktop.http.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})


async def test_a_code_expires(desktop: App, browser: Browser, person: Person, clock: Clock) -> None:
    location = await _location(desktop, browser, person)
    clock.offset = timedelta(seconds=121)  # auth.code_ttl_s is 120
    late = await desktop.exchange(location)
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"


async def test_tokens_expire_by_the_settings(
    desktop: App, browser: Browser, person: Person, clock: Clock, registry: Registry, admin: Actor
) -> None:
    await registry.settings.set(admin, "auth.access_token_ttl_s", 600)
    await registry.settings.set(admin, "auth.refresh_token_ttl_s", 3600)
    tokens = await _tokens(desktop, browser, person)
    assert tokens["expires_in"] == 600
    assert (await _userinfo(desktop, tokens["access_token"])()).status_code == 200
    clock.offset = timedelta(seconds=601)
    assert (await _userinfo(desktop, tokens["access_token"])()).status_code == 401
    fresh = await desktop.refresh(tokens["refresh_token"])
    assert fresh.status_code == 200, fresh.text
    assert (await _userinfo(desktop, fresh.json()["access_token"])()).status_code == 200
    clock.offset = timedelta(seconds=601 + 3601)
    stale = await desktop.refresh(fresh.json()["refresh_token"])
    assert stale.status_code == 400
    assert stale.json()["error"] == "invalid_grant"


async def test_racing_refreshes_cannot_both_win(
    desktop: App, browser: Browser, person: Person
) -> None:
    tokens = await _tokens(desktop, browser, person)
    answers = await asyncio.gather(
        desktop.refresh(tokens["refresh_token"]), desktop.refresh(tokens["refresh_token"])
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 400]
    winner = next(a for a in answers if a.status_code == 200).json()
    # the loser's attempt is a reuse: the whole family, the winner's tokens too, is revoked
    assert (await desktop.refresh(winner["refresh_token"])).status_code == 400
    assert (await _userinfo(desktop, winner["access_token"])()).status_code == 401


async def test_disabling_a_client_stops_its_tokens_and_sign_ins(
    desktop: App, browser: Browser, person: Person, registry: Registry, admin: Actor
) -> None:
    tokens = await _tokens(desktop, browser, person)
    await registry.oauth_clients.update(
        admin, "textassistant-desktop", OAuthClientUpdate(enabled=False)
    )
    assert (await _userinfo(desktop, tokens["access_token"])()).status_code == 401
    refused = await desktop.refresh(tokens["refresh_token"])
    assert refused.status_code in (400, 401)
    assert refused.json()["error"] == "invalid_client"
    page = await browser.visit(desktop.authorize_url(SCOPE), person)
    assert page.status_code == 400
    assert "location" not in page.headers
