"""OAuth clients and access tokens written straight into the database, for tests of how
tokens are honoured (the gateway, the admin API) apart from how they are issued.

Tokens have the issued format (``myat_`` + 43 urlsafe characters, stored as their SHA-256);
clients are registered, disabled and deleted through the registry's service; revoking is
audited here as the authorization server audits it, so that the registry's generation moves
and every replica drops what it cached.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select

from modelyard.db.auth_tables import OAuthClient, OAuthConsent, OAuthToken
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_client_specs import OAuthClientCreate, OAuthClientUpdate
from modelyard.services import Registry

APP = "test-app"


async def client_pk(registry: Registry, client_id: str = APP) -> uuid.UUID:
    """The client's row id, registered (public, enabled) through the registry on first use."""
    operator = Actor.operator("test")
    async with registry.db.read(operator) as tx:
        found = await tx.session.scalar(
            select(OAuthClient.id).where(OAuthClient.client_id == client_id)
        )
    if found is not None:
        return found
    spec = OAuthClientCreate(
        client_id=client_id,
        name=f"{client_id} (test)",
        client_type="public",
        redirect_uris=["http://127.0.0.1/callback"],
        grant_types=["authorization_code", "refresh_token"],
        scopes=["openid", "llm.inference", "models.read", "user.info", "credits.read"],
    )
    return (await registry.oauth_clients.create(operator, spec)).client.id


async def mint(
    registry: Registry,
    user_id: uuid.UUID | str,
    scopes: list[str] | tuple[str, ...] = ("llm.inference", "models.read"),
    *,
    client_id: str = APP,
    ttl_s: float = 3600,
) -> str:
    """A new access token for ``user_id`` through ``client_id`` (negative ``ttl_s``: already
    expired); returns its text."""
    pk = await client_pk(registry, client_id)
    token = "myat_" + secrets.token_urlsafe(32)
    async with registry.db.write(Actor.operator("test")) as tx:
        tx.session.add(
            OAuthToken(
                id=uuid.uuid4(),
                client_pk=pk,
                user_id=uuid.UUID(str(user_id)),
                family_id=uuid.uuid4(),
                access_hash=hashlib.sha256(token.encode()).hexdigest(),
                scopes=list(scopes),
                grant_type="authorization_code",
                issued_at=tx.now,
                access_expires_at=tx.now + timedelta(seconds=ttl_s),
            )
        )
    return token


async def revoke(registry: Registry, token: str) -> None:
    """Revoke one access token, audited (the generation moves)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    async with registry.db.write(Actor.operator("test")) as tx:
        row = await tx.session.scalar(select(OAuthToken).where(OAuthToken.access_hash == digest))
        assert row is not None
        row.revoked_at, row.revoked_reason = tx.now, "revoked"
        await tx.record("oauth_token.revoke", "oauth_token", row.id)


async def disable_client(registry: Registry, client_id: str = APP) -> None:
    """Disable a client through the registry (audited)."""
    update = OAuthClientUpdate(enabled=False)
    await registry.oauth_clients.update(Actor.operator("test"), client_id, update)


async def delete_client(registry: Registry, client_id: str = APP) -> None:
    """Delete a client through the registry (audited; its tokens go with it)."""
    await registry.oauth_clients.delete(Actor.operator("test"), client_id)


async def consent(registry: Registry, user_id: uuid.UUID | str, client_id: str = APP) -> None:
    """The user's remembered consent to the client (as approving its consent page leaves)."""
    pk = await client_pk(registry, client_id)
    async with registry.db.write(Actor.operator("test")) as tx:
        tx.session.add(
            OAuthConsent(
                id=uuid.uuid4(),
                user_id=uuid.UUID(str(user_id)),
                client_pk=pk,
                scopes=["llm.inference", "models.read"],
            )
        )
