"""OAuth clients: registration rules, secrets shown once and hashed, constant-time client
authentication, redirect URI matching (exact, loopback any port), audit without secrets."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from modelyard.db.auth_tables import OAuthClient
from modelyard.db.tables import AuditEvent
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_client_rules import DEVICE_CODE, check_redirect_uri
from modelyard.registry.oauth_clients import (
    OAuthClientCreate,
    OAuthClientUpdate,
    authenticate_client,
    find_client,
    redirect_uri_matches,
)
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from tests.registry.helpers import ALL, fails, member

DESKTOP = "http://127.0.0.1/callback"


def spec(**fields: Any) -> OAuthClientCreate:
    base: dict[str, Any] = {
        "client_id": "textassistant-desktop",
        "name": "TextAssistant",
        "client_type": "public",
        "redirect_uris": [DESKTOP],
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "email", "llm.inference"],
    }
    return OAuthClientCreate.model_validate(base | fields)


async def _audit_texts(registry: Registry) -> list[str]:
    async with registry.db.engine.connect() as conn:
        rows = await conn.execute(select(AuditEvent.__table__))
        return [str(tuple(row)) for row in rows]


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com/callback",
        "https://app.example.com:8443/cb?x=1",
        "http://127.0.0.1/callback",
        "http://127.0.0.1:8080/callback",
        "http://[::1]/cb",
        "com.example.app:/oauth2redirect",
    ],
)
def test_acceptable_redirect_uris(uri: str) -> None:
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("http://app.example.com/cb", "loopback"),
        ("http://localhost/cb", "localhost"),
        ("https://app.example.com/cb#frag", "fragment"),
        ("https://user:pw@app.example.com/cb", "credentials"),
        ("https:///cb", "host"),
        ("javascript:alert(1)", "reverse domain"),
        ("myapp:/cb", "reverse domain"),
        ("com.example.app://host/cb", "no host"),
        ("HTTPS://app.example.com/cb", "lowercase"),
        ("https://app.example.com/c b", "whitespace"),
        ("/relative/cb", "scheme"),
        ("http://127.0.0.1:99999/cb", "port"),
        ("", "characters"),
    ],
)
def test_refused_redirect_uris_say_why(uri: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_redirect_uri(uri)


@pytest.mark.parametrize(
    ("registered", "given", "matches"),
    [
        (["https://a.example.com/cb"], "https://a.example.com/cb", True),
        (["https://a.example.com/cb"], "https://a.example.com/cb/", False),
        (["https://a.example.com/cb"], "https://a.example.com:443/cb", False),
        (["https://a.example.com/cb"], "https://A.example.com/cb", False),
        (["https://a.example.com/cb"], "https://a.example.com/cb?x=1", False),
        ([DESKTOP], "http://127.0.0.1:53127/callback", True),
        ([DESKTOP], "http://127.0.0.1/callback", True),
        (["http://127.0.0.1:8080/callback"], "http://127.0.0.1:9090/callback", True),
        ([DESKTOP], "http://127.0.0.1:53127/callback/x", False),
        ([DESKTOP], "http://127.0.0.1:53127/callback?x=1", False),
        ([DESKTOP], "http://127.0.0.1:53127/callback#x", False),
        ([DESKTOP], "http://127.0.0.1:99999/callback", False),
        ([DESKTOP], "http://127.0.0.1:0/callback", False),
        ([DESKTOP], "http://[::1]:5000/callback", False),
        ([DESKTOP], "http://localhost:5000/callback", False),
        ([DESKTOP], "https://127.0.0.1:5000/callback", False),
        ([DESKTOP], "http://127.0.0.1@evil.example.com:5000/callback", False),
        ([DESKTOP], "http://127.0.0.1.evil.example.com/callback", False),
        (["http://[::1]/cb"], "http://[::1]:4000/cb", True),
        (["com.example.app:/cb"], "com.example.app:/cb", True),
        (["com.example.app:/cb"], "com.example.app:/cb2", False),
        ([], DESKTOP, False),
    ],
)
def test_redirect_uri_matching(registered: list[str], given: str, matches: bool) -> None:
    assert redirect_uri_matches(registered, given) is matches


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"client_id": "Text Assistant"}, "client_id"),
        ({"client_id": "-x"}, "client_id"),
        ({"client_id": "a" * 101}, "client_id"),
        ({"scopes": ["admin"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"grant_types": ["password"]}, "grant_types"),
        ({"grant_types": ["implicit"]}, "grant_types"),
        ({"redirect_uris": ["http://evil.example.com/cb"]}, "redirect_uris"),
        ({"client_type": "trusted"}, "client_type"),
        ({"secret_hash": "0" * 64}, "secret_hash"),
    ],
)
def test_bad_client_specs_are_refused_by_field(fields: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        spec(**fields)
    assert where in str(info.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"grant_types": ["client_credentials"]}, "public client"),
        ({"grant_types": ["authorization_code"], "redirect_uris": []}, "redirect URI"),
        ({"grant_types": ["refresh_token"]}, "refresh_token"),
        ({"grant_types": []}, "at least one"),
        (
            {"client_type": "confidential", "grant_types": ["client_credentials"]},
            "service user",
        ),
    ],
)
async def test_incoherent_clients_are_refused_and_change_nothing(
    registry: Registry, admin: Actor, fields: dict[str, Any], message: str
) -> None:
    error = await fails(
        registry, "VALIDATION_FAILED", registry.oauth_clients.create(admin, spec(**fields))
    )
    assert message in error.message


async def test_public_client_has_no_secret_and_is_found(registry: Registry, admin: Actor) -> None:
    created = await registry.oauth_clients.create(admin, spec())
    assert created.client_secret is None
    assert created.client.secret_prefix is None
    assert created.client.scopes == ["email", "llm.inference", "openid"]
    found = await find_client(registry.db, "textassistant-desktop")
    assert found is not None
    assert (found.client_type, found.redirect_uris) == ("public", [DESKTOP])
    assert await find_client(registry.db, "nobody") is None
    for hostile in ("x" * 5000, "textassistant-desktop\x00", "\ud800", ""):
        assert await find_client(registry.db, hostile) is None
        await fails(registry, "INVALID_CLIENT", authenticate_client(registry.db, hostile, "\ud800"))
        await fails(registry, "OAUTH_CLIENT_NOT_FOUND", registry.oauth_clients.get(admin, hostile))
    await fails(
        registry,
        "CLIENT_ID_TAKEN",
        registry.oauth_clients.create(admin, spec(name="Another")),
    )


async def test_confidential_secret_is_shown_once_hashed_and_authenticates(
    registry: Registry, admin: Actor
) -> None:
    service = await registry.users.create(admin, UserCreate(email="svc@example.com"))
    created = await registry.oauth_clients.create(
        admin,
        spec(
            client_id="billing-sync",
            client_type="confidential",
            grant_types=["client_credentials"],
            redirect_uris=[],
            scopes=["credits.read"],
            service_user_id=service.id,
        ),
    )
    secret = created.client_secret
    assert secret is not None
    assert secret.startswith("mycs_")
    assert len(secret) > 40
    async with registry.db.engine.connect() as conn:
        row = (await conn.execute(select(OAuthClient.__table__))).one()
    assert secret not in str(tuple(row))
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()

    client = await authenticate_client(registry.db, "billing-sync", secret)
    assert client.service_user_id == service.id
    for client_id, given in (
        ("billing-sync", secret + "x"),
        ("billing-sync", ""),
        ("nobody", secret),
        ("textassistant-desktop", secret),
    ):
        await fails(registry, "INVALID_CLIENT", authenticate_client(registry.db, client_id, given))

    rotated = await registry.oauth_clients.rotate_secret(admin, "billing-sync")
    assert rotated.client_secret is not None
    assert rotated.client_secret != secret
    await fails(
        registry, "INVALID_CLIENT", authenticate_client(registry.db, "billing-sync", secret)
    )
    await authenticate_client(registry.db, "billing-sync", rotated.client_secret)

    audit = "\n".join(await _audit_texts(registry))
    for text in (secret, rotated.client_secret):
        assert text not in audit
        assert hashlib.sha256(text.encode()).hexdigest() not in audit


async def test_public_clients_cannot_authenticate_or_rotate(
    registry: Registry, admin: Actor
) -> None:
    await registry.oauth_clients.create(admin, spec())
    await fails(
        registry,
        "CLIENT_PUBLIC",
        registry.oauth_clients.rotate_secret(admin, "textassistant-desktop"),
    )


async def test_disabled_clients_are_not_found_nor_authenticate(
    registry: Registry, admin: Actor
) -> None:
    created = await registry.oauth_clients.create(
        admin, spec(client_id="web", client_type="confidential")
    )
    assert created.client_secret is not None
    disabled = await registry.oauth_clients.update(admin, "web", OAuthClientUpdate(enabled=False))
    assert (disabled.enabled, disabled.config_version) == (False, 2)
    assert await find_client(registry.db, "web") is None
    await fails(
        registry, "INVALID_CLIENT", authenticate_client(registry.db, "web", created.client_secret)
    )


async def test_update_checks_the_whole_client_and_audits(registry: Registry, admin: Actor) -> None:
    await registry.oauth_clients.create(admin, spec())
    for change, field in (
        (OAuthClientUpdate(grant_types=["client_credentials"]), "grant_types"),
        (OAuthClientUpdate(redirect_uris=[]), "redirect_uris"),
    ):
        error = await fails(
            registry,
            "VALIDATION_FAILED",
            registry.oauth_clients.update(admin, "textassistant-desktop", change),
        )
        assert error.details["errors"][0]["path"] == field
    with pytest.raises(ValidationError, match="may not be null"):
        OAuthClientUpdate.model_validate({"scopes": None})

    updated = await registry.oauth_clients.update(
        admin,
        "textassistant-desktop",
        OAuthClientUpdate(
            grant_types=["authorization_code", "refresh_token", DEVICE_CODE],
            scopes=["openid", "inference"],
            skip_consent=True,
        ),
    )
    assert updated.scopes == ["llm.inference", "models.read", "openid"]
    assert updated.skip_consent is True
    page = await registry.audit.list(admin, ALL)
    events = [e.action for e in page.items if e.entity_type == "oauth_client"]
    assert sorted(events) == ["oauth_client.create", "oauth_client.update"]


async def test_service_user_must_exist(registry: Registry, admin: Actor) -> None:
    error = await fails(
        registry,
        "VALIDATION_FAILED",
        registry.oauth_clients.create(
            admin,
            spec(
                client_type="confidential",
                grant_types=["client_credentials"],
                redirect_uris=[],
                service_user_id=uuid.uuid4(),
            ),
        ),
    )
    assert "service_user_id" in error.message


async def test_delete_removes_the_client(registry: Registry, admin: Actor) -> None:
    await registry.oauth_clients.create(admin, spec())
    gone = await registry.oauth_clients.delete(admin, "textassistant-desktop")
    assert gone.client_id == "textassistant-desktop"
    assert await registry.oauth_clients.list(admin) == []
    await fails(
        registry,
        "OAUTH_CLIENT_NOT_FOUND",
        registry.oauth_clients.delete(admin, "textassistant-desktop"),
    )


async def test_members_may_not_manage_clients(registry: Registry, admin: Actor) -> None:
    await registry.oauth_clients.create(admin, spec())
    alice = await member(registry, admin)
    for call in (
        registry.oauth_clients.create(alice, spec(client_id="mine")),
        registry.oauth_clients.list(alice),
        registry.oauth_clients.get(alice, "textassistant-desktop"),
        registry.oauth_clients.update(alice, "textassistant-desktop", OAuthClientUpdate(name="x")),
        registry.oauth_clients.delete(alice, "textassistant-desktop"),
        registry.oauth_clients.rotate_secret(alice, "textassistant-desktop"),
    ):
        await fails(registry, "FORBIDDEN", call)
