"""The device authorization grant (RFC 8628) end to end: a CLI starts and polls, a person
approves or denies at /device in a browser."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy import select

from modelyard.db.auth_tables import OAuthToken
from modelyard.registry import oauth_devices
from modelyard.registry.oauth_clients import OAuthClientUpdate
from modelyard.registry.users import UserUpdate
from modelyard.services import Registry
from tests.api.oauth_extra.conftest import (
    ISSUER,
    OPERATOR,
    Device,
    ResourceServer,
    approve,
    make_client,
    signed_in_tokens,
)
from tests.api.web.browser import Browser, text
from tests.api.web.conftest import Person
from tests.support.client_rows import DEVICE_GRANT, Clock


async def test_start_poll_approve_and_get_tokens_once(
    http: httpx.AsyncClient,
    browser: Browser,
    registry: Registry,
    person: Person,
    cli: str,
    clock: Clock,
    resource_server: ResourceServer,
) -> None:
    device = Device(http, cli)
    started = await device.start("llm.inference models.read")
    assert started.status_code == 200
    assert started.headers["cache-control"] == "no-store"
    body = started.json()
    assert set(body) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", body["user_code"])
    assert body["verification_uri"] == f"{ISSUER}/device"
    assert body["verification_uri_complete"] == f"{ISSUER}/device?user_code={body['user_code']}"
    assert (body["expires_in"], body["interval"]) == (900, 5)

    pending = await device.poll()
    assert (pending.status_code, pending.json()["error"]) == (400, "authorization_pending")

    done = await approve(browser, person, device)
    assert "My Cli is connected" in text(done.text)
    clock.advance(5)
    answer = await device.poll()
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["access_token"].startswith("myat_")
    assert tokens["refresh_token"].startswith("myrt_")
    assert tokens["scope"] == "llm.inference models.read"
    assert tokens["expires_in"] == 3600

    clock.advance(5)
    again = await device.poll()
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")

    seen = await http.post(
        "/oauth/introspect", data={"token": tokens["access_token"]}, headers=resource_server.basic()
    )
    assert seen.json()["active"] is True
    assert seen.json()["sub"] == person.id
    async with registry.db.read(OPERATOR) as tx:
        rows = list(await tx.session.scalars(select(OAuthToken)))
    assert [r.grant_type for r in rows] == ["urn:ietf:params:oauth:grant-type:device_code"]


async def test_the_refresh_token_rotates(
    http: httpx.AsyncClient, browser: Browser, person: Person, cli: str, clock: Clock
) -> None:
    device = Device(http, cli)
    tokens = await signed_in_tokens(browser, person, device, clock)
    refreshed = await device.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]


async def test_denied(
    http: httpx.AsyncClient, browser: Browser, person: Person, cli: str, clock: Clock
) -> None:
    device = Device(http, cli)
    await device.start()
    done = await approve(browser, person, device, "deny")
    assert "You refused My Cli" in text(done.text)
    clock.advance(5)
    answer = await device.poll()
    assert (answer.status_code, answer.json()["error"]) == (400, "access_denied")


async def test_expired(
    http: httpx.AsyncClient, browser: Browser, person: Person, cli: str, clock: Clock
) -> None:
    device = Device(http, cli)
    await device.start()
    clock.advance(901)
    answer = await device.poll()
    assert (answer.status_code, answer.json()["error"]) == (400, "expired_token")
    await browser.sign_in(person.email, person.password)
    path = device.started["verification_uri_complete"].removeprefix(ISSUER)
    assert (await browser.get(path)).status_code == 404


async def test_polling_too_fast_slows_down(http: httpx.AsyncClient, cli: str, clock: Clock) -> None:
    device = Device(http, cli)
    await device.start()
    assert (await device.poll()).json()["error"] == "authorization_pending"
    clock.advance(1)
    slow = await device.poll()
    assert (slow.status_code, slow.json()["error"]) == (400, "slow_down")
    clock.advance(6)  # the first interval is no longer enough: it grew to 10 s
    assert (await device.poll()).json()["error"] == "slow_down"
    clock.advance(15)
    assert (await device.poll()).json()["error"] == "authorization_pending"


async def test_a_suspended_approver_gets_no_tokens(
    http: httpx.AsyncClient,
    browser: Browser,
    registry: Registry,
    person: Person,
    cli: str,
    clock: Clock,
) -> None:
    device = Device(http, cli)
    await device.start()
    await approve(browser, person, device)
    await registry.users.update(OPERATOR, person.id, UserUpdate(status="suspended"))
    clock.advance(5)
    answer = await device.poll()
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")


async def test_another_client_cannot_redeem_the_code(
    http: httpx.AsyncClient,
    browser: Browser,
    registry: Registry,
    person: Person,
    cli: str,
    clock: Clock,
) -> None:
    await make_client(registry, "other-cli")
    device = Device(http, cli)
    await device.start()
    await approve(browser, person, device)
    thief = Device(http, "other-cli")
    thief.started = device.started
    clock.advance(5)
    assert (await thief.poll()).json()["error"] == "invalid_grant"
    assert (await device.poll()).status_code == 200


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_id": "nobody"}, 400, "invalid_client"),
        ({"client_id": "my-cli", "scope": "registry.write"}, 400, "invalid_scope"),
        ({"client_id": "my-cli", "scope": "made.up"}, 400, "invalid_scope"),
        ({"client_id": "code-only"}, 400, "unauthorized_client"),
        ({"client_id": "x" * 5000}, 400, "invalid_client"),
    ],
)
async def test_bad_device_authorization_requests(
    http: httpx.AsyncClient,
    registry: Registry,
    cli: str,
    form: dict[str, str],
    status: int,
    error: str,
) -> None:
    await make_client(registry, "code-only", grants=["authorization_code"], scopes=["openid"])
    answer = await http.post("/oauth/device_authorization", data=form)
    assert (answer.status_code, answer.json()["error"]) == (status, error)


async def test_hostile_polls_get_4xx(http: httpx.AsyncClient, cli: str) -> None:
    base = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": cli}
    for form in (
        base,
        base | {"device_code": ""},
        base | {"device_code": "nope"},
        base | {"device_code": "x" * 5000},
        base | {"device_code": "a\u00e9\U0001f600"},
    ):
        answer = await http.post("/oauth/token", data=form)
        assert answer.status_code == 400, form
        assert answer.json()["error"] in {"invalid_request", "invalid_grant"}
    as_json = await http.post("/oauth/device_authorization", json={"client_id": cli})
    assert as_json.status_code == 400


async def test_a_disabled_client_is_refused(
    http: httpx.AsyncClient, registry: Registry, cli: str
) -> None:
    await registry.oauth_clients.update(OPERATOR, cli, OAuthClientUpdate(enabled=False))
    answer = await http.post("/oauth/device_authorization", data={"client_id": cli})
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_client")


async def test_discovery_advertises_the_endpoints(http: httpx.AsyncClient) -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        meta = (await http.get(path)).json()
        assert meta["device_authorization_endpoint"] == f"{ISSUER}/oauth/device_authorization"
        assert meta["revocation_endpoint"] == f"{ISSUER}/oauth/revoke"
        assert meta["introspection_endpoint"] == f"{ISSUER}/oauth/introspect"
        assert "urn:ietf:params:oauth:grant-type:device_code" in meta["grant_types_supported"]
        assert "none" not in meta["introspection_endpoint_auth_methods_supported"]


async def test_racing_polls_get_tokens_once(
    http: httpx.AsyncClient, browser: Browser, person: Person, cli: str, clock: Clock
) -> None:
    device = Device(http, cli)
    await device.start()
    await approve(browser, person, device)
    clock.advance(5)
    answers = await asyncio.gather(*(device.poll() for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 400, 400, 400]
    assert {a.json().get("error") for a in answers if a.status_code == 400} == {"invalid_grant"}


async def test_a_flood_of_device_requests_is_capped(
    http: httpx.AsyncClient, cli: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oauth_devices, "MAX_WAITING_PER_CLIENT", 2)
    for _ in range(2):
        assert (await Device(http, cli).start()).status_code == 200
    refused = await Device(http, cli).start()
    assert refused.status_code == 429
    assert refused.json()["error"] == "temporarily_unavailable"
    assert refused.headers["retry-after"] == "60"
    clock.advance(901)  # the waiting ones expired
    assert (await Device(http, cli).start()).status_code == 200


async def test_a_confidential_device_client_authenticates_each_time(
    http: httpx.AsyncClient, browser: Browser, registry: Registry, person: Person, clock: Clock
) -> None:
    secret = await make_client(registry, "kiosk", confidential=True)
    assert secret is not None
    kiosk = ResourceServer("kiosk", secret)  # HTTP Basic with its secret
    started = await http.post(
        "/oauth/device_authorization", data={"scope": "models.read"}, headers=kiosk.basic()
    )
    assert started.status_code == 200
    device = Device(http, "kiosk")
    device.started = started.json()
    nameless = await http.post("/oauth/device_authorization", data={"client_id": "kiosk"})
    assert (nameless.status_code, nameless.json()["error"]) == (401, "invalid_client")
    await approve(browser, person, device)
    clock.advance(5)
    poll = {"grant_type": DEVICE_GRANT, "device_code": device.started["device_code"]}
    without = await http.post("/oauth/token", data=poll | {"client_id": "kiosk"})
    assert without.json()["error"] == "invalid_client"
    answer = await http.post("/oauth/token", data=poll, headers=kiosk.basic())
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "models.read"
