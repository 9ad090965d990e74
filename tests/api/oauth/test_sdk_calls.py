"""What the tokens are for: the desktop app signs its user in, then calls models through a
real modelyard server with the official openai SDK, the access token as its api_key, held
to the scopes the user approved and refused as soon as the sign-in is revoked."""

from __future__ import annotations

import asyncio

import openai
import pytest

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.oauth.flows import App, Browser
from tests.api.web.conftest import Person
from tests.gateway.server import running


async def _tokens(desktop: App, browser: Browser, person: Person, scope: str) -> dict[str, str]:
    page = await browser.visit(desktop.authorize_url(scope), person)
    answer = page if page.status_code == 302 else await browser.consent(page)
    tokens = await desktop.exchange(answer.headers["location"])
    assert tokens.status_code == 200, tokens.text
    body: dict[str, str] = tokens.json()
    return body


@pytest.fixture
async def fake_model(registry: Registry, admin: Actor) -> str:
    provider = await registry.providers.create(
        admin, {"name": "fake-a", "kind": "fake", "config": {"reply": "hello from fake-a"}}
    )
    await registry.models.create(
        admin, {"provider_id": provider.id, "model_id": "fake-model", "capabilities": ["text"]}
    )
    return "fake-model"


async def test_the_openai_sdk_calls_models_with_an_access_token(
    desktop: App,
    browser: Browser,
    person: Person,
    registry: Registry,
    settings: Settings,
    fake_model: str,
) -> None:
    full = await _tokens(desktop, browser, person, "openid llm.inference models.read")
    narrow = await _tokens(desktop, browser, person, "openid models.read")
    async with running(settings, registry) as (url, _app):
        client = openai.AsyncOpenAI(
            base_url=f"{url}/v1", api_key=full["access_token"], max_retries=0
        )
        models = [m.id async for m in client.models.list()]
        assert fake_model in models
        reply = await client.chat.completions.create(
            model=fake_model, messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content == "hello from fake-a"
        listing = openai.AsyncOpenAI(
            base_url=f"{url}/v1", api_key=narrow["access_token"], max_retries=0
        )
        assert fake_model in [m.id async for m in listing.models.list()]
        with pytest.raises(openai.PermissionDeniedError) as refused:
            await listing.chat.completions.create(
                model=fake_model, messages=[{"role": "user", "content": "hi"}]
            )
        assert refused.value.code == "insufficient_scope"
        assert "llm.inference" in str(refused.value)
        # the refresh token is replayed after a refresh: the whole sign-in is revoked
        assert (await desktop.refresh(full["refresh_token"])).status_code == 200
        assert (await desktop.refresh(full["refresh_token"])).status_code == 400
        for _ in range(40):
            try:
                await client.models.list()
            except openai.AuthenticationError:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the revoked token still worked after 2 s")
        await client.close()
        await listing.close()
