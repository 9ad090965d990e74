"""OAuth rows written straight into the database: a client, a user's consent to it and
tokens it holds (the authorization server makes them in production)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from modelyard.db.auth_tables import OAuthClient, OAuthConsent, OAuthToken
from modelyard.db.types import utcnow
from modelyard.registry.actors import Actor
from modelyard.services import Registry


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def connect_app(
    registry: Registry, user_id: str, client_id: str, name: str, scopes: list[str]
) -> uuid.UUID:
    """A public client ``client_id`` the user consented to, holding two live tokens;
    returns the client's primary key."""
    now = utcnow()
    async with registry.db.write(Actor.operator()) as tx:
        client = OAuthClient(
            id=uuid.uuid4(),
            client_id=client_id,
            name=name,
            description="",
            client_type="public",
            redirect_uris=["http://127.0.0.1/callback"],
            grant_types=["authorization_code", "refresh_token"],
            scopes=scopes,
        )
        tx.session.add(client)
        await tx.session.flush()
        uid = uuid.UUID(user_id)
        tx.session.add(OAuthConsent(user_id=uid, client_pk=client.id, scopes=scopes))
        family = uuid.uuid4()
        for _ in range(2):
            tx.session.add(
                OAuthToken(
                    client_pk=client.id,
                    user_id=uid,
                    family_id=family,
                    access_hash=_hash("myat_" + secrets.token_urlsafe(32)),
                    refresh_hash=_hash("myrt_" + secrets.token_urlsafe(32)),
                    scopes=scopes,
                    grant_type="authorization_code",
                    access_expires_at=now + timedelta(hours=1),
                )
            )
        return client.id
