"""Token introspection (RFC 7662) end to end: a resource server (a confidential client)
asks whether a token it was handed is active."""

from __future__ import annotations

import httpx

from modelyard.registry.oauth_clients import OAuthClientUpdate
from modelyard.registry.users import UserUpdate
from modelyard.services import Registry
from tests.api.oauth_extra.conftest import (
    ISSUER,
    OPERATOR,
    Device,
    ResourceServer,
    signed_in_tokens,
)
from tests.api.web.browser import Browser
from tests.api.web.conftest import Person
from tests.support.client_rows import Clock


async def _introspect(
    http: httpx.AsyncClient, rs: ResourceServer, token: str, **extra: str
) -> httpx.Response:
    return await http.post("/oauth/introspect", data={"token": token, **extra}, headers=rs.basic())


async def test_an_active_access_token_described(
    http: httpx.AsyncClient,
    browser: Browser,
    person: Person,
    cli: str,
    clock: Clock,
    resource_server: ResourceServer,
) -> None:
    tokens = await signed_in_tokens(browser, person, Device(http, cli), clock)
    answer = await _introspect(http, resource_server, tokens["access_token"])
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    now = int(clock.now.timestamp())
    assert body == {
        "active": True,
        "scope": "llm.inference models.read",
        "client_id": cli,
        "username": person.email,
        "token_type": "Bearer",
        "exp": now + 3600,
        "iat": now,
        "sub": person.id,
        "iss": ISSUER,
    }
    refresh = (await _introspect(http, resource_server, tokens["refresh_token"])).json()
    assert (refresh["active"], refresh["token_type"]) == (True, "refresh_token")


async def test_the_secret_may_be_sent_in_the_form(
    http: httpx.AsyncClient,
    browser: Browser,
    person: Person,
    cli: str,
    clock: Clock,
    resource_server: ResourceServer,
) -> None:
    tokens = await signed_in_tokens(browser, person, Device(http, cli), clock)
    form = {
        "token": tokens["access_token"],
        "client_id": resource_server.client_id,
        "client_secret": resource_server.secret,
    }
    answer = await http.post("/oauth/introspect", data=form)
    assert answer.json()["active"] is True


async def test_inactive_tokens_say_nothing_more(
    http: httpx.AsyncClient,
    browser: Browser,
    registry: Registry,
    person: Person,
    cli: str,
    clock: Clock,
    resource_server: ResourceServer,
) -> None:
    device = Device(http, cli)
    tokens = await signed_in_tokens(browser, person, device, clock)
    for token in ("myat_unknown", "myrt_unknown", "garbage", "x" * 5000):
        assert (await _introspect(http, resource_server, token)).json() == {"active": False}

    clock.advance(3601)  # the access token expired; its refresh token lives on
    assert (await _introspect(http, resource_server, tokens["access_token"])).json() == {
        "active": False
    }
    assert (await _introspect(http, resource_server, tokens["refresh_token"])).json()["active"]

    rotated = (await device.refresh(tokens["refresh_token"])).json()
    assert (await _introspect(http, resource_server, tokens["refresh_token"])).json() == {
        "active": False
    }  # exchanged: it may never be used again
    assert (await _introspect(http, resource_server, rotated["access_token"])).json()["active"]

    await registry.oauth_clients.update(OPERATOR, cli, OAuthClientUpdate(enabled=False))
    assert not (await _introspect(http, resource_server, rotated["access_token"])).json()["active"]
    await registry.oauth_clients.update(OPERATOR, cli, OAuthClientUpdate(enabled=True))
    assert (await _introspect(http, resource_server, rotated["access_token"])).json()["active"]

    await registry.users.update(OPERATOR, person.id, UserUpdate(status="suspended"))
    assert not (await _introspect(http, resource_server, rotated["access_token"])).json()["active"]


async def test_only_confidential_clients_may_introspect(
    http: httpx.AsyncClient,
    browser: Browser,
    person: Person,
    cli: str,
    clock: Clock,
    resource_server: ResourceServer,
) -> None:
    tokens = await signed_in_tokens(browser, person, Device(http, cli), clock)
    public = await http.post(
        "/oauth/introspect", data={"token": tokens["access_token"], "client_id": cli}
    )
    assert (public.status_code, public.json()["error"]) == (401, "invalid_client")
    anonymous = await http.post("/oauth/introspect", data={"token": tokens["access_token"]})
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "invalid_client")
    wrong = ResourceServer(resource_server.client_id, resource_server.secret + "x")
    refused = await _introspect(http, wrong, tokens["access_token"])
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert "active" not in refused.json()


async def test_bad_requests(http: httpx.AsyncClient, resource_server: ResourceServer) -> None:
    missing = await http.post("/oauth/introspect", data={}, headers=resource_server.basic())
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    hint = await _introspect(http, resource_server, "x", token_type_hint="id_token")
    assert (hint.status_code, hint.json()) == (200, {"active": False})  # a hint is only a hint
    as_json = await http.post(
        "/oauth/introspect", json={"token": "x"}, headers=resource_server.basic()
    )
    assert as_json.status_code == 400
    get = await http.get("/oauth/introspect", headers=resource_server.basic())
    assert get.status_code == 405
