"""Test helpers of the device flow, revocation and introspection: OAuth client rows written
directly, and a clock the test moves."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from modelyard.db.auth_tables import OAuthClient
from modelyard.db.types import utcnow
from modelyard.registry.actors import Actor
from modelyard.services import Registry

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class Clock:
    """The registry's clock, moved by the test (``registry.db.clock = clock``)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def add_client(
    registry: Registry,
    client_id: str,
    *,
    confidential: bool = False,
    grant_types: tuple[str, ...] = (DEVICE_GRANT, "refresh_token"),
    scopes: tuple[str, ...] = ("llm.inference", "models.read", "user.info", "offline_access"),
    enabled: bool = True,
) -> tuple[OAuthClient, str | None]:
    """An OAuth client row; a confidential one's secret is returned (shown once)."""
    secret = "mycs_" + secrets.token_urlsafe(32) if confidential else None
    row = OAuthClient(
        client_id=client_id,
        name=client_id.replace("-", " ").title(),
        client_type="confidential" if confidential else "public",
        secret_hash=hashlib.sha256(secret.encode()).hexdigest() if secret else None,
        secret_prefix=secret[:12] if secret else None,
        redirect_uris=[],
        grant_types=list(grant_types),
        scopes=list(scopes),
        enabled=enabled,
    )
    async with registry.db.write(Actor.operator()) as tx:
        tx.session.add(row)
    return row, secret
