"""A user's connected apps: the OAuth clients they consented to, and taking that back.

Revoking an app deletes the remembered consent (the app must ask again) and revokes every
token the app holds for the user, in one audited transaction; the generation bump makes
every gateway drop the tokens within a second."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from modelyard.db.auth_tables import OAuthClient, OAuthConsent, OAuthToken
from modelyard.errors import NotFound
from modelyard.registry.actors import Actor
from modelyard.registry.common import View, not_found
from modelyard.registry.oauth_tokens import revoke_where
from modelyard.registry.scopes import DESCRIPTIONS
from modelyard.registry.tx import Database


class ScopeView(View):
    name: str
    description: str


class ConnectedApp(View):
    client_id: str
    name: str
    description: str
    scopes: list[ScopeView]
    granted_at: datetime
    updated_at: datetime


def _scopes(names: list[str]) -> list[ScopeView]:
    return [ScopeView(name=n, description=DESCRIPTIONS.get(n, n)) for n in sorted(names)]


def _user(actor: Actor) -> uuid.UUID:
    if actor.user_id is None:
        raise not_found("user", "operator")
    return actor.user_id


class ConnectedApps:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, actor: Actor) -> list[ConnectedApp]:
        """The acting user's consents, newest first."""
        uid = _user(actor)
        async with self.db.read(actor) as tx:
            rows = await tx.session.execute(
                select(OAuthConsent, OAuthClient)
                .join(OAuthClient, OAuthClient.id == OAuthConsent.client_pk)
                .where(OAuthConsent.user_id == uid)
                .order_by(OAuthConsent.updated_at.desc(), OAuthClient.client_id)
            )
            return [
                ConnectedApp(
                    client_id=client.client_id,
                    name=client.name,
                    description=client.description,
                    scopes=_scopes(consent.scopes),
                    granted_at=consent.granted_at,
                    updated_at=consent.updated_at,
                )
                for consent, client in rows
            ]

    async def revoke(self, actor: Actor, client_id: str) -> ConnectedApp:
        """The acting user disconnects ``client_id``: consent gone, its tokens revoked."""
        uid = _user(actor)
        async with self.db.write(actor) as tx:
            found = (
                await tx.session.execute(
                    select(OAuthConsent, OAuthClient)
                    .join(OAuthClient, OAuthClient.id == OAuthConsent.client_pk)
                    .where(OAuthConsent.user_id == uid, OAuthClient.client_id == client_id)
                )
            ).first()
            if found is None:
                raise NotFound(f"no connected app {client_id!r}", code="CONNECTED_APP_NOT_FOUND")
            consent, client = found[0], found[1]
            app = ConnectedApp(
                client_id=client.client_id,
                name=client.name,
                description=client.description,
                scopes=_scopes(consent.scopes),
                granted_at=consent.granted_at,
                updated_at=consent.updated_at,
            )
            revoked = await revoke_where(
                tx,
                "consent_revoked",
                OAuthToken.user_id == uid,
                OAuthToken.client_pk == client.id,
            )
            await tx.session.delete(consent)
            await tx.record(
                "oauth_consent.revoke",
                "oauth_consent",
                consent.id,
                before={"user_id": str(uid), "client_id": client_id, "scopes": consent.scopes},
                after={"revoked_tokens": revoked},
            )
            return app
