"""The connected apps page: what each app may do, and disconnecting one."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from modelyard.db.auth_tables import OAuthConsent, OAuthToken
from modelyard.db.tables import AuditEvent
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.api.web.browser import Browser, form, forms, text
from tests.api.web.conftest import Person, make_person
from tests.api.web.oauth_rows import connect_app


async def _tokens(registry: Registry, client_pk: uuid.UUID) -> list[OAuthToken]:
    async with registry.db.read(Actor.operator()) as tx:
        rows = await tx.session.scalars(select(OAuthToken).where(OAuthToken.client_pk == client_pk))
        return list(rows)


async def test_the_page_needs_a_session(browser: Browser) -> None:
    answer = await browser.get("/account/apps?tab=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Faccount%2Fapps%3Ftab%3D1"
    # a form posted after the session ended comes back to the page, not to the form's
    # address (a GET there is a 405)
    posted = await browser.client.post("/account/apps/revoke", data={"client_id": "x"})
    assert posted.status_code == 303
    assert posted.headers["location"] == "/login?next=%2Faccount%2Fapps"


async def test_apps_are_listed_with_what_they_may_do(
    browser: Browser, registry: Registry, person: Person
) -> None:
    await connect_app(
        registry, person.id, "textassistant-desktop", "Text <Assistant>", ["llm.inference"]
    )
    await browser.sign_in(person.email, person.password)
    page = await browser.get("/account/apps")
    assert page.status_code == 200
    assert "Text &lt;Assistant&gt;" in page.text  # escaped
    assert "Call models for you" in text(page.text)
    assert [f["fields"]["client_id"] for f in forms(page.text)] == ["textassistant-desktop"]


async def test_disconnecting_revokes_consent_and_tokens(
    browser: Browser, registry: Registry, person: Person
) -> None:
    client_pk = await connect_app(registry, person.id, "desk", "Desk", ["llm.inference"])
    other = await make_person(registry)
    other_pk = await connect_app(registry, other.id, "desk2", "Desk two", ["models.read"])
    before = await registry.generation()
    await browser.sign_in(person.email, person.password)
    page = await browser.get("/account/apps")
    answer = await browser.submit(page, "/account/apps/revoke")
    assert answer.status_code == 200
    assert "Desk is disconnected" in text(answer.text)
    assert "No apps are connected" in text(answer.text)
    tokens = await _tokens(registry, client_pk)
    assert tokens
    assert all(t.revoked_at is not None for t in tokens)
    assert {t.revoked_reason for t in tokens} == {"consent_revoked"}
    assert all(t.revoked_at is None for t in await _tokens(registry, other_pk))
    assert await registry.generation() > before  # gateways drop the tokens
    async with registry.db.read(Actor.operator()) as tx:
        consents = list(await tx.session.scalars(select(OAuthConsent)))
        event = await tx.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "oauth_consent.revoke")
        )
    assert [c.client_pk for c in consents] == [other_pk]
    assert event is not None
    assert event.actor_id == person.id
    assert event.after == {"revoked_tokens": 2}


async def test_another_users_app_cannot_be_disconnected(
    browser: Browser, web_client: httpx.AsyncClient, registry: Registry, person: Person
) -> None:
    other = await make_person(registry)
    other_pk = await connect_app(registry, other.id, "theirs", "Theirs", ["llm.inference"])
    await browser.sign_in(person.email, person.password)
    token = form((await browser.get("/logout")).text, "/logout")["csrf_token"]
    answer = await web_client.post(
        "/account/apps/revoke",
        data={"csrf_token": token, "client_id": "theirs"},
        headers={"Origin": browser.origin},
    )
    assert answer.status_code == 404
    assert "text/html" in answer.headers["content-type"]
    assert all(t.revoked_at is None for t in await _tokens(registry, other_pk))
