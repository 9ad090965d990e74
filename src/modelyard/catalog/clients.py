"""Seed 003's OAuth client: the desktop app ``textassistant-desktop`` that signs its users in
(authorization code with PKCE, refresh tokens) and calls models for them. A native app
cannot keep a secret, so it is public; it listens on a loopback port it picks at run time,
so its redirect URI is ``http://127.0.0.1/callback`` on any port (RFC 8252).
``modelyard seed`` creates it when missing and leaves it alone once it exists (an admin may
have changed it)."""

from __future__ import annotations

from sqlalchemy import select

from modelyard.db.auth_tables import OAuthClient
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_clients import OAuthClientCreate, create_client
from modelyard.registry.tx import Database

DESKTOP = OAuthClientCreate(
    client_id="textassistant-desktop",
    name="TextAssistant",
    description="Seed 003's desktop app: signs its users in and calls models with their credits.",
    client_type="public",
    redirect_uris=["http://127.0.0.1/callback"],
    grant_types=["authorization_code", "refresh_token"],
    scopes=[
        *("openid", "email", "profile"),
        *("llm.inference", "models.read", "user.info", "credits.read"),
    ],
)
SEEDED = (DESKTOP,)


async def seed_clients(db: Database, actor: Actor) -> list[str]:
    """Create the seeded clients that do not exist yet (audited); their client ids."""
    actor.require_admin("seed OAuth clients")
    created: list[str] = []
    async with db.write(actor) as tx:
        existing = set(
            await tx.session.scalars(
                select(OAuthClient.client_id).where(
                    OAuthClient.client_id.in_([s.client_id for s in SEEDED])
                )
            )
        )
        for spec in SEEDED:
            if spec.client_id not in existing:
                await create_client(tx, spec)
                created.append(spec.client_id)
    return created
