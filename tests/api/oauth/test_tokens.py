"""Tokens after the code: refresh rotation and reuse detection, client credentials,
userinfo by scope, and what revocation, suspension and hostile token requests get."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from modelyard.db.auth_tables import OAuthClient, OAuthToken
from modelyard.db.tables import AuditEvent
from modelyard.registry import oauth_tokens
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_clients import OAuthClientUpdate
from modelyard.registry.users import UserUpdate
from modelyard.services import Registry
from tests.api.oauth.flows import App, Browser
from tests.api.web.conftest import Person

SCOPE = "openid email profile llm.inference models.read"


async def _tokens(desktop: App, browser: Browser, person: Person, scope: str = SCOPE) -> Any:
    page = await browser.visit(desktop.authorize_url(scope), person)
    answer = page if page.status_code == 302 else await browser.consent(page)
    tokens = await desktop.exchange(answer.headers["location"])
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _audit(registry: Registry) -> list[AuditEvent]:
    async with registry.db.read(Actor.operator()) as tx:
        return list(await tx.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(
    desktop: App, browser: Browser, person: Person, registry: Registry
) -> None:
    first = await _tokens(desktop, browser, person)
    second = await desktop.refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    second_body = second.json()
    assert second_body["refresh_token"] != first["refresh_token"]
    assert second_body["access_token"] != first["access_token"]
    assert second_body["scope"].split() == SCOPE.split()
    info = await desktop.http.get("/oauth/userinfo", headers=bearer(second_body["access_token"]))
    assert info.status_code == 200
    generation = await registry.generation()
    reused = await desktop.refresh(first["refresh_token"])  # a thief, or a stale copy
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert await registry.generation() > generation  # gateways drop the cached tokens
    latest = await desktop.refresh(second_body["refresh_token"])
    assert latest.status_code == 400
    assert latest.json()["error"] == "invalid_grant"
    for access in (first["access_token"], second_body["access_token"]):
        gone = await desktop.http.get("/oauth/userinfo", headers=bearer(access))
        assert gone.status_code == 401
    events = [e for e in await _audit(registry) if e.action.startswith("oauth_token")]
    assert [e.action for e in events] == ["oauth_token.revoke_family"]
    assert events[0].after["reason"] == "refresh_token_reused"
    assert events[0].after["revoked"] == 2
    text = repr([(e.before, e.after) for e in await _audit(registry)])
    for secret in (first["refresh_token"], first["access_token"]):
        assert secret not in text
        assert oauth_tokens.digest(secret) not in text


async def test_refresh_may_narrow_the_scope_but_never_widen_it(
    desktop: App, browser: Browser, person: Person
) -> None:
    first = await _tokens(desktop, browser, person, "openid llm.inference")
    narrower = await desktop.refresh(first["refresh_token"], scope="llm.inference")
    assert narrower.status_code == 200
    assert narrower.json()["scope"] == "llm.inference"
    wider = await desktop.refresh(
        narrower.json()["refresh_token"], scope="llm.inference models.read"
    )
    assert wider.status_code == 400
    assert wider.json()["error"] == "invalid_scope"


async def test_narrowing_the_clients_scopes_narrows_its_refreshed_tokens(
    desktop: App, browser: Browser, person: Person, registry: Registry
) -> None:
    first = await _tokens(desktop, browser, person, "openid llm.inference models.read")
    client = await registry.oauth_clients.get(Actor.operator(), "textassistant-desktop")
    narrowed = [s for s in client.scopes if s != "llm.inference"]
    await registry.oauth_clients.update(
        Actor.operator(), "textassistant-desktop", OAuthClientUpdate(scopes=narrowed)
    )
    second = await desktop.refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    assert second.json()["scope"].split() == ["openid", "models.read"]
    calls = await desktop.http.get("/api/v1/models", headers=bearer(second.json()["access_token"]))
    assert calls.status_code == 200, calls.text
    async with registry.db.read(Actor.operator()) as tx:
        rows = list(await tx.session.scalars(select(OAuthToken).order_by(OAuthToken.issued_at)))
    assert [sorted(r.scopes) for r in rows] == [
        ["llm.inference", "models.read", "openid"],
        ["models.read", "openid"],
    ]
    asking = await desktop.refresh(second.json()["refresh_token"], scope="llm.inference")
    assert asking.status_code == 400
    assert asking.json()["error"] == "invalid_scope"


async def test_a_refresh_token_belongs_to_its_client(
    desktop: App, service: App, browser: Browser, person: Person
) -> None:
    first = await _tokens(desktop, browser, person)
    stolen = await service.refresh(first["refresh_token"])
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"
    assert (await desktop.refresh(first["refresh_token"])).status_code == 200


async def test_userinfo_says_what_the_scopes_allow(
    desktop: App, browser: Browser, person: Person, registry: Registry
) -> None:
    narrow = await _tokens(desktop, browser, person, "openid")
    info = await desktop.http.get("/oauth/userinfo", headers=bearer(narrow["access_token"]))
    assert info.status_code == 200
    assert info.json() == {"sub": person.id}
    full = await _tokens(desktop, browser, person, "openid user.info")
    posted = await desktop.http.post("/oauth/userinfo", headers=bearer(full["access_token"]))
    assert posted.json() == {
        "sub": person.id,
        "name": person.email,
        "email": person.email,
        "email_verified": False,
        "role": "member",
    }
    no_openid = await _tokens(desktop, browser, person, "llm.inference")
    refused = await desktop.http.get("/oauth/userinfo", headers=bearer(no_openid["access_token"]))
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    for headers in ({}, bearer("myat_nope"), bearer("x" * 5000), {"Authorization": "Basic eA=="},
                    {"Authorization": "Bearer"}, {"Authorization": 'Bearer "\\'}):  # fmt: skip
        anonymous = await desktop.http.get("/oauth/userinfo", headers=headers)
        assert anonymous.status_code in (400, 401), headers
    missing = await desktop.http.get("/oauth/userinfo")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].lower().startswith("bearer")


async def test_suspending_the_user_stops_their_tokens(
    desktop: App, browser: Browser, person: Person, registry: Registry
) -> None:
    tokens = await _tokens(desktop, browser, person)
    await registry.users.update(Actor.operator(), person.id, UserUpdate(status="suspended"))
    gone = await desktop.http.get("/oauth/userinfo", headers=bearer(tokens["access_token"]))
    assert gone.status_code == 401
    refused = await desktop.refresh(tokens["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


async def test_revoking_a_connected_app_revokes_its_tokens_for_that_user(
    desktop: App, browser: Browser, person: Person, registry: Registry
) -> None:
    tokens = await _tokens(desktop, browser, person)
    async with registry.db.write(Actor.operator()) as tx:
        client = await tx.session.scalar(
            select(OAuthClient).where(OAuthClient.client_id == "textassistant-desktop")
        )
        assert client is not None
        count = await oauth_tokens.revoke_for(tx, uuid.UUID(person.id), client.id)
    assert count == 1
    assert (await desktop.refresh(tokens["refresh_token"])).status_code == 400
    events = [e.action for e in await _audit(registry)]
    assert "oauth_token.revoke_for" in events


async def test_client_credentials_act_as_the_service_user(
    service: App, desktop: App, registry: Registry
) -> None:
    answer = await service.token(grant_type="client_credentials")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["access_token"].startswith("myat_")
    assert "refresh_token" not in body
    assert "id_token" not in body
    assert sorted(body["scope"].split()) == ["credits.read", "models.read"]
    async with registry.db.read(Actor.operator()) as tx:
        row = await tx.session.scalar(
            select(OAuthToken).where(
                OAuthToken.access_hash == oauth_tokens.digest(body["access_token"])
            )
        )
        assert row is not None
        assert str(row.user_id) == service.service_user_id
        assert row.grant_type == "client_credentials"
    narrow = await service.token(grant_type="client_credentials", scope="models.read")
    assert narrow.json()["scope"] == "models.read"
    for scope, error in (("openid", "invalid_scope"), ("registry.write", "invalid_scope")):
        refused = await service.token(grant_type="client_credentials", scope=scope)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == error
    wrong = App(service.http, "reporting", service.redirect_uri, secret="mycs_wrong")
    denied = await wrong.token(grant_type="client_credentials")
    assert denied.status_code == 401
    assert denied.json()["error"] == "invalid_client"
    public = await desktop.token(grant_type="client_credentials")
    assert public.status_code in (400, 401)
    assert public.json()["error"] in ("invalid_client", "unauthorized_client")


async def test_hostile_token_requests_get_a_clear_400(desktop: App) -> None:
    http = desktop.http
    cases = [
        await http.post("/oauth/token", json={"grant_type": "authorization_code"}),
        await http.post("/oauth/token", content=b"grant_type=" + b"a" * 20000,
                        headers={"Content-Type": "application/x-www-form-urlencoded"}),
        await http.post("/oauth/token", data={"grant_type": "authorization_code\x00"}),
        await http.post("/oauth/token", content=b"\xff\xfe=1",
                        headers={"Content-Type": "application/x-www-form-urlencoded"}),
        await http.post("/oauth/token", data={"grant_type": "password", "username": "a"}),
        await http.post("/oauth/token",
                        content=b"grant_type=authorization_code&client_id=%ed%a0%80&code=%ff",
                        headers={"Content-Type": "application/x-www-form-urlencoded"}),
        await http.post("/oauth/token", data={"grant_type": "client_credentials",
                                              "client_id": "x" * 500, "client_secret": "y"}),
        await http.post("/oauth/token", data={"grant_type": "refresh_token",
                                              "client_id": "textassistant-desktop",
                                              "refresh_token": "myrt_" + "x" * 300}),
        await http.post("/oauth/token", data={"grant_type": "authorization_code",
                                              "client_id": "nobody", "code": "x"}),
    ]  # fmt: skip
    form = {"grant_type": "client_credentials"}
    for header in ("Basic !!!", "Basic bm9jb2xvbg==", "Basic //79", "Basic " + "QQ" * 3000,
                   "Basic OiI=", "Bearer x", "Basic"):  # fmt: skip
        cases.append(await http.post("/oauth/token", data=form, headers={"Authorization": header}))
    for answer in cases:
        assert answer.status_code in (400, 401), answer.text
        assert "error" in answer.json()
    assert (await http.get("/oauth/token")).status_code == 405


async def test_no_token_reaches_the_logs(
    desktop: App, browser: Browser, person: Person, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = await _tokens(desktop, browser, person)
    second = (await desktop.refresh(first["refresh_token"])).json()
    secrets = [first["access_token"], first["refresh_token"], second["access_token"]]
    secrets += [second["refresh_token"], first["id_token"]]
    for secret in secrets:
        assert secret not in caplog.text
