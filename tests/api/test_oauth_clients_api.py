"""OAuth clients and signing keys over REST: admins manage them, a confidential client's
secret appears once, members are refused, and hostile input changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from modelyard.registry.oauth_clients import authenticate_client
from modelyard.services import Registry
from tests.api.helpers import API, assert_error, auth, make_member, ok, snapshot

CLIENTS, KEYS = f"{API}/oauth/clients", f"{API}/oauth/signing-keys"
AUDIT = f"{API}/audit?limit=500"
DESKTOP = {
    "client_id": "textassistant-desktop",
    "name": "TextAssistant",
    "client_type": "public",
    "redirect_uris": ["http://127.0.0.1/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "scopes": ["openid", "email", "profile", "llm.inference", "models.read"],
}
SERVER = {
    "client_id": "reports.example",
    "name": "Reports",
    "client_type": "confidential",
    "redirect_uris": ["https://reports.example.com/oauth/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "scopes": ["openid", "credits.read"],
}


async def test_admin_registers_manages_and_deletes_clients(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    admin = auth(admin_key)
    public = ok(await client.post(CLIENTS, headers=admin, json=DESKTOP), 201)
    assert public["client_secret"] is None
    assert public["client"]["client_id"] == "textassistant-desktop"
    assert "secret_hash" not in public["client"]

    changed = ok(
        await client.patch(
            f"{CLIENTS}/textassistant-desktop",
            headers=admin,
            json={"name": "TextAssistant for desktop", "skip_consent": True},
        )
    )
    assert (changed["name"], changed["skip_consent"], changed["config_version"]) == (
        "TextAssistant for desktop",
        True,
        2,
    )
    assert ok(await client.get(f"{CLIENTS}/textassistant-desktop", headers=admin)) == changed
    assert [c["client_id"] for c in ok(await client.get(CLIENTS, headers=admin))] == [
        "textassistant-desktop"
    ]

    gone = ok(await client.delete(f"{CLIENTS}/textassistant-desktop", headers=admin))
    assert gone["client_id"] == "textassistant-desktop"
    assert ok(await client.get(CLIENTS, headers=admin)) == []
    assert_error(
        await client.get(f"{CLIENTS}/textassistant-desktop", headers=admin),
        404,
        "OAUTH_CLIENT_NOT_FOUND",
    )
    actions = [e["action"] for e in ok(await client.get(AUDIT, headers=admin))["items"]]
    assert {"oauth_client.create", "oauth_client.update", "oauth_client.delete"} <= set(actions)


async def test_a_confidential_secret_is_shown_once_and_rotates(
    client: httpx.AsyncClient, admin_key: str, registry: Registry
) -> None:
    admin = auth(admin_key)
    created = ok(await client.post(CLIENTS, headers=admin, json=SERVER), 201)
    secret = created["client_secret"]
    assert secret.startswith("mycs_")
    assert created["client"]["secret_prefix"] == secret[:12]
    await authenticate_client(registry.db, "reports.example", secret)

    rotated = ok(await client.post(f"{CLIENTS}/reports.example/rotate-secret", headers=admin))
    assert rotated["client_secret"] != secret
    await authenticate_client(registry.db, "reports.example", rotated["client_secret"])

    everything = [
        (await client.get(path, headers=admin)).text
        for path in (CLIENTS, f"{CLIENTS}/reports.example", AUDIT, KEYS)
    ]
    for text in everything:
        assert secret not in text
        assert rotated["client_secret"] not in text


async def test_admin_rotates_signing_keys(client: httpx.AsyncClient, admin_key: str) -> None:
    admin = auth(admin_key)
    assert ok(await client.get(KEYS, headers=admin)) == []
    first = ok(await client.post(f"{KEYS}/rotate", headers=admin))
    second = ok(await client.post(f"{KEYS}/rotate", headers=admin))
    listed = ok(await client.get(KEYS, headers=admin))
    assert [(k["kid"], k["signing"], k["published"]) for k in listed] == [
        (second["kid"], True, True),
        (first["kid"], False, True),
    ]
    assert all("d" not in k["public_jwk"] and "private_sealed" not in k for k in listed)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", CLIENTS, None),
        ("POST", CLIENTS, {**DESKTOP, "client_id": "mine"}),
        ("GET", f"{CLIENTS}/textassistant-desktop", None),
        ("PATCH", f"{CLIENTS}/textassistant-desktop", {"skip_consent": True}),
        ("DELETE", f"{CLIENTS}/textassistant-desktop", None),
        ("POST", f"{CLIENTS}/reports.example/rotate-secret", None),
        ("GET", KEYS, None),
        ("POST", f"{KEYS}/rotate", None),
    ],
)
async def test_members_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, admin_key: str, method: str, path: str, body: Any
) -> None:
    admin = auth(admin_key)
    ok(await client.post(CLIENTS, headers=admin, json=DESKTOP), 201)
    ok(await client.post(CLIENTS, headers=admin, json=SERVER), 201)
    member = await make_member(client, admin_key)
    before = await snapshot(client, admin_key, CLIENTS, KEYS, AUDIT)
    response = await client.request(method, path, headers=member.headers, json=body)
    assert_error(response, 403, "FORBIDDEN")
    assert await snapshot(client, admin_key, CLIENTS, KEYS, AUDIT) == before


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", CLIENTS, {**DESKTOP, "redirect_uris": ["http://evil.example/cb"]}, 422, None),
        ("POST", CLIENTS, {**DESKTOP, "redirect_uris": ["https://a.example/cb#x"]}, 422, None),
        ("POST", CLIENTS, {**DESKTOP, "grant_types": ["client_credentials"]}, 422, None),
        ("POST", CLIENTS, {**DESKTOP, "scopes": ["root"]}, 422, None),
        ("POST", CLIENTS, {**DESKTOP, "client_id": "A B"}, 422, None),
        ("POST", CLIENTS, {**DESKTOP, "secret_hash": "0" * 64}, 422, None),
        ("POST", CLIENTS, {**DESKTOP, "name": "x\x00"}, 422, None),
        ("POST", CLIENTS, DESKTOP, 409, "CLIENT_ID_TAKEN"),
        ("PATCH", f"{CLIENTS}/textassistant-desktop", {"redirect_uris": None}, 422, None),
        ("PATCH", f"{CLIENTS}/textassistant-desktop", {"redirect_uris": []}, 422, None),
        ("PATCH", f"{CLIENTS}/{'x' * 5000}", {"name": "n"}, 404, None),
        ("DELETE", f"{CLIENTS}/nobody", None, 404, "OAUTH_CLIENT_NOT_FOUND"),
        ("POST", f"{CLIENTS}/textassistant-desktop/rotate-secret", None, 409, "CLIENT_PUBLIC"),
    ],
)
async def test_hostile_input_gets_a_clear_4xx_and_changes_nothing(
    client: httpx.AsyncClient,
    admin_key: str,
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str | None,
) -> None:
    ok(await client.post(CLIENTS, headers=auth(admin_key), json=DESKTOP), 201)
    before = await snapshot(client, admin_key, CLIENTS, AUDIT)
    response = await client.request(method, path, headers=auth(admin_key), json=body)
    assert_error(response, status, code)
    assert await snapshot(client, admin_key, CLIENTS, AUDIT) == before
