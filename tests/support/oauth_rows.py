"""OAuth clients and access tokens written straight into the database, for tests of how
tokens are honoured (the gateway, the admin API) apart from how they are issued.

Tokens have the issued format (``myat_`` + 43 urlsafe characters, stored as their SHA-256);
revoking and disabling a client are audited here as the real services audit them, so that
the registry's generation moves and every replica drops what it cached.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from modelyard.db.auth_tables import OAuthClient, OAuthToken
from modelyard.registry.actors import Actor
from modelyard.services import Registry

APP = "test-app"


async def client_pk(registry: Registry, client_id: str = APP) -> uuid.UUID:
    """The client's row id, made (public, enabled) on first use; not audited, like a seed."""
    async with registry.db.write(Actor.operator("test")) as tx:
        found = await tx.session.scalar(
            select(OAuthClient.id).where(OAuthClient.client_id == client_id)
        )
        if found is not None:
            return found
        row = OAuthClient(
            id=uuid.uuid4(),
            client_id=client_id,
            name=f"{client_id} (test)",
            client_type="public",
            redirect_uris=["http://127.0.0.1/callback"],
            grant_types=["authorization_code", "refresh_token"],
            scopes=["openid", "llm.inference", "models.read", "user.info", "credits.read"],
        )
        tx.session.add(row)
        return row.id


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
    """Disable a client, audited."""
    async with registry.db.write(Actor.operator("test")) as tx:
        await tx.session.execute(
            update(OAuthClient).where(OAuthClient.client_id == client_id).values(enabled=False)
        )
        await tx.record("oauth_client.update", "oauth_client", client_id)
