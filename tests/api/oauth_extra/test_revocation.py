"""Token revocation (RFC 7009) end to end: a CLI signs out by revoking its tokens."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from modelyard.db.tables import AuditEvent
from modelyard.services import Registry
from tests.api.oauth_extra.conftest import (
    OPERATOR,
    Device,
    ResourceServer,
    approve,
    make_client,
    signed_in_tokens,
)
from tests.api.web.browser import Browser
from tests.api.web.conftest import Person
from tests.support.client_rows import Clock


async def _active(http: httpx.AsyncClient, rs: ResourceServer, token: str) -> bool:
    answer = await http.post("/oauth/introspect", data={"token": token}, headers=rs.basic())
    assert answer.status_code == 200
    active: bool = answer.json()["active"]
    return active


async def _events(registry: Registry) -> list[AuditEvent]:
    async with registry.db.read(OPERATOR) as tx:
        found = await tx.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.like("oauth_token.%"))
            .order_by(AuditEvent.id)
        )
        return list(found)


async def test_revoking_the_access_token(
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
    before = await registry.generation()
    answer = await device.revoke(tokens["access_token"], token_type_hint="access_token")
    assert (answer.status_code, answer.json()) == (200, {})
    assert await registry.generation() > before  # every gateway drops it within a second
    assert not await _active(http, resource_server, tokens["access_token"])
    refused = await device.refresh(tokens["refresh_token"])  # issued with it: gone too
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    events = await _events(registry)
    assert [e.action for e in events] == ["oauth_token.revoke"]
    assert events[0].actor_id == person.id
    assert events[0].actor_label == f"user:{person.email} via {cli}"
    said = str(events[0].before) + str(events[0].after)
    assert tokens["access_token"] not in said
    assert tokens["refresh_token"] not in said

    again = await device.revoke(tokens["access_token"])
    assert again.status_code == 200
    assert len(await _events(registry)) == 1  # nothing more happened


async def test_revoking_a_refresh_token_revokes_its_family(
    http: httpx.AsyncClient,
    browser: Browser,
    registry: Registry,
    person: Person,
    cli: str,
    clock: Clock,
    resource_server: ResourceServer,
) -> None:
    device = Device(http, cli)
    first = await signed_in_tokens(browser, person, device, clock)
    second = (await device.refresh(first["refresh_token"])).json()
    other = await signed_in_tokens(browser, person, device, clock)  # another sign-in
    assert await _active(http, resource_server, second["access_token"])

    answer = await device.revoke(second["refresh_token"], token_type_hint="refresh_token")
    assert answer.status_code == 200
    for token in (first["access_token"], second["access_token"], second["refresh_token"]):
        assert not await _active(http, resource_server, token)
    assert await _active(http, resource_server, other["access_token"])
    assert await _active(http, resource_server, other["refresh_token"])
    events = await _events(registry)
    assert [e.action for e in events] == ["oauth_token.revoke_family"]
    assert events[0].after == {"revoked": 2, "reason": "revoked_by_client"}


async def test_a_wrong_hint_still_revokes(
    http: httpx.AsyncClient,
    browser: Browser,
    person: Person,
    cli: str,
    clock: Clock,
    resource_server: ResourceServer,
) -> None:
    device = Device(http, cli)
    tokens = await signed_in_tokens(browser, person, device, clock)
    answer = await device.revoke(tokens["access_token"], token_type_hint="refresh_token")
    assert answer.status_code == 200
    assert not await _active(http, resource_server, tokens["access_token"])


async def test_unknown_tokens_get_200_and_change_nothing(
    http: httpx.AsyncClient, registry: Registry, cli: str
) -> None:
    before = await registry.generation()
    device = Device(http, cli)
    for token in ("myat_unknown", "myrt_unknown", "garbage", "x" * 5000, "\u00e9\U0001f600"):
        answer = await device.revoke(token)
        assert answer.status_code == 200, token
    assert await registry.generation() == before
    assert await _events(registry) == []


async def test_another_clients_token_is_refused(
    http: httpx.AsyncClient,
    browser: Browser,
    registry: Registry,
    person: Person,
    cli: str,
    clock: Clock,
    resource_server: ResourceServer,
) -> None:
    tokens = await signed_in_tokens(browser, person, Device(http, cli), clock)
    await make_client(registry, "other-cli")
    answer = await Device(http, "other-cli").revoke(tokens["access_token"])
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")
    assert await _active(http, resource_server, tokens["access_token"])


async def test_bad_requests(
    http: httpx.AsyncClient, cli: str, resource_server: ResourceServer
) -> None:
    missing = await http.post("/oauth/revoke", data={"client_id": cli})
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    hint = await http.post(
        "/oauth/revoke", data={"client_id": cli, "token": "x", "token_type_hint": "id_token"}
    )
    assert hint.status_code == 200  # a hint is only a hint
    nobody = await http.post("/oauth/revoke", data={"token": "x"})
    assert (nobody.status_code, nobody.json()["error"]) == (401, "invalid_client")
    wrong = await http.post(
        "/oauth/revoke",
        data={"token": "x"},
        headers={"Authorization": "Basic " + "YmlsbGluZy1hcGk6bm9wZQ=="},  # billing-api:nope
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    as_json = await http.post("/oauth/revoke", json={"client_id": cli, "token": "x"})
    assert as_json.status_code == 400


async def test_a_cli_signs_in_calls_the_api_and_signs_out(
    http: httpx.AsyncClient,
    browser: Browser,
    registry: Registry,
    person: Person,
    clock: Clock,
) -> None:
    """The whole life of a CLI's sign-in: device flow, an API call with the access token,
    a refresh, then sign-out by revoking the refresh token: every token of it stops working."""
    await make_client(registry, "reader-cli", scopes=["registry.read", "offline_access"])
    device = Device(http, "reader-cli")
    assert (await device.start("registry.read offline_access")).status_code == 200
    await approve(browser, person, device)
    clock.advance(5)
    tokens = (await device.poll()).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await http.get("/api/v1/models", headers=bearer)).status_code == 200

    rotated = (await device.refresh(tokens["refresh_token"])).json()
    fresh = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert (await http.get("/api/v1/models", headers=fresh)).status_code == 200

    assert (await device.revoke(rotated["refresh_token"])).status_code == 200
    for headers in (bearer, fresh):
        refused = await http.get("/api/v1/models", headers=headers)
        assert refused.status_code == 401
