"""OAuth token rows: stored as hashes, rotated once, families and connected apps revoked
with one audit event each (none when nothing changed)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from modelyard.db.auth_tables import OAuthCode, OAuthToken
from modelyard.db.tables import AuditEvent
from modelyard.db.types import utcnow
from modelyard.registry import oauth_codes, oauth_tokens
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_clients import OAuthClientCreate
from modelyard.registry.oauth_tokens import Issued, Lifetimes
from modelyard.registry.users import UserCreate
from modelyard.services import Registry

OPERATOR = Actor.operator()
TTL = Lifetimes(access_s=60, refresh_s=600, code_s=120)


def issued(refresh: bool = True) -> Issued:
    return Issued(
        access_token=oauth_tokens.new_access_token(),
        refresh_token=oauth_tokens.new_refresh_token() if refresh else None,
        scopes=["llm.inference"],
        grant_type="authorization_code",
        ttl=TTL,
    )


@pytest.fixture
async def owner(registry: Registry) -> tuple[uuid.UUID, uuid.UUID]:
    user = await registry.users.create(OPERATOR, UserCreate(email="tok@example.com"))
    made = await registry.oauth_clients.create(
        OPERATOR,
        OAuthClientCreate(
            client_id="app",
            name="App",
            client_type="public",
            redirect_uris=["http://127.0.0.1/cb"],
            grant_types=["authorization_code", "refresh_token"],
            scopes=["llm.inference"],
        ),
    )
    return user.id, made.client.id


async def _events(registry: Registry, prefix: str) -> int:
    async with registry.db.read(OPERATOR) as tx:
        count = await tx.session.scalar(
            select(func.count()).where(AuditEvent.action.startswith(prefix))
        )
        return int(count or 0)


async def test_tokens_are_kept_as_hashes(
    registry: Registry, owner: tuple[uuid.UUID, uuid.UUID]
) -> None:
    user_id, client_pk = owner
    tokens = issued()
    row = await oauth_tokens.store(registry.db, tokens, client_pk=client_pk, user_id=user_id)
    assert row.access_hash == oauth_tokens.digest(tokens.access_token)
    assert tokens.refresh_token is not None
    assert row.refresh_hash == oauth_tokens.digest(tokens.refresh_token)
    assert row.access_expires_at - row.issued_at == timedelta(seconds=60)
    assert await oauth_tokens.find_access(registry.db, tokens.access_token) is not None
    assert await oauth_tokens.find_access(registry.db, tokens.refresh_token) is None
    found = await oauth_tokens.find_refresh(registry.db, tokens.refresh_token)
    assert found is not None
    assert found.token.id == row.id
    assert await _events(registry, "oauth_token") == 0  # issuing is not audited


async def test_a_refresh_token_rotates_once(
    registry: Registry, owner: tuple[uuid.UUID, uuid.UUID]
) -> None:
    user_id, client_pk = owner
    first = await oauth_tokens.store(registry.db, issued(), client_pk=client_pk, user_id=user_id)
    second = await oauth_tokens.rotate(registry.db, first.id, issued())
    assert second.family_id == first.family_id
    assert second.parent_id == first.id
    with pytest.raises(oauth_tokens.RefreshReused):
        await oauth_tokens.rotate(registry.db, first.id, issued())
    async with registry.db.read(OPERATOR) as tx:
        rows = list(
            await tx.session.scalars(
                select(OAuthToken).where(OAuthToken.family_id == first.family_id)
            )
        )
    assert len(rows) == 2
    assert all(r.revoked_reason == "refresh_token_reused" for r in rows)
    assert await _events(registry, "oauth_token.revoke_family") == 1


async def test_revocations_are_audited_once_and_only_when_they_change_something(
    registry: Registry, owner: tuple[uuid.UUID, uuid.UUID]
) -> None:
    user_id, client_pk = owner
    for _ in range(2):
        await oauth_tokens.store(registry.db, issued(), client_pk=client_pk, user_id=user_id)
    single = await oauth_tokens.store(
        registry.db, issued(False), client_pk=client_pk, user_id=user_id
    )
    async with registry.db.write(OPERATOR) as tx:
        row = await tx.session.get(OAuthToken, single.id)
        assert row is not None
        assert await oauth_tokens.revoke(tx, row, "revoked") is True
        assert await oauth_tokens.revoke(tx, row, "revoked") is False
    async with registry.db.write(OPERATOR) as tx:
        assert await oauth_tokens.revoke_for(tx, user_id, client_pk) == 2
    async with registry.db.write(OPERATOR) as tx:
        assert await oauth_tokens.revoke_for(tx, user_id, client_pk) == 0
    assert await _events(registry, "oauth_token.revoke_for") == 1
    assert await _events(registry, "oauth_token.revoke") == 2  # revoke + revoke_for


async def test_an_expired_refresh_token_is_refused(
    registry: Registry, owner: tuple[uuid.UUID, uuid.UUID]
) -> None:
    user_id, client_pk = owner
    tokens = issued()
    assert tokens.refresh_token is not None
    await oauth_tokens.store(registry.db, tokens, client_pk=client_pk, user_id=user_id)
    registry.db.clock = lambda: utcnow() + timedelta(seconds=601)
    assert await oauth_tokens.find_refresh(registry.db, tokens.refresh_token) is None
    assert await oauth_tokens.find_access(registry.db, tokens.access_token) is None


async def test_rows_nothing_can_use_are_forgotten_when_new_ones_come(
    registry: Registry, owner: tuple[uuid.UUID, uuid.UUID]
) -> None:
    user_id, client_pk = owner
    old = await oauth_tokens.store(registry.db, issued(), client_pk=client_pk, user_id=user_id)
    access_only = await oauth_tokens.store(
        registry.db, issued(False), client_pk=client_pk, user_id=user_id
    )
    registry.db.clock = lambda: utcnow() + timedelta(seconds=600 + 86_400 + 1)
    new = await oauth_tokens.store(registry.db, issued(), client_pk=client_pk, user_id=user_id)
    async with registry.db.read(OPERATOR) as tx:
        left = set(await tx.session.scalars(select(OAuthToken.id)))
    assert left == {new.id}
    assert old.id not in left
    assert access_only.id not in left


async def test_codes_long_expired_are_forgotten_and_a_code_is_claimed_once(
    registry: Registry, owner: tuple[uuid.UUID, uuid.UUID]
) -> None:
    user_id, client_pk = owner
    request = oauth_codes.CodeRequest(
        client_pk=client_pk,
        user_id=user_id,
        redirect_uri="",
        scopes=["llm.inference"],
        nonce=None,
        code_challenge=None,
        code_challenge_method=None,
        auth_time=utcnow(),
    )
    first = oauth_codes.new_code()
    await oauth_codes.save_code(registry.db, first, request)
    assert await oauth_codes.claim_code(registry.db, first, uuid.uuid4()) is None  # other client
    assert await oauth_codes.claim_code(registry.db, first, client_pk) is not None
    assert await oauth_codes.claim_code(registry.db, first, client_pk) is None
    registry.db.clock = lambda: utcnow() + timedelta(hours=2)
    await oauth_codes.save_code(registry.db, oauth_codes.new_code(), request)
    async with registry.db.read(OPERATOR) as tx:
        assert await tx.session.scalar(select(func.count()).select_from(OAuthCode)) == 1
