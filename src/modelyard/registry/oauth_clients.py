"""OAuth clients: the applications that sign users in. Public clients (desktop, browser
apps) have no secret and use PKCE; confidential ones hold a secret, shown once at creation
or rotation and kept only as its SHA-256. Admins manage them; every change is audited
without the secret or its hash.

The authorization server looks clients up through :func:`find_client` (enabled ones only)
and :func:`authenticate_client` (constant time) and checks redirect URIs with
:func:`redirect_uri_matches`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from sqlalchemy import select

from modelyard.db.auth_tables import OAuthClient
from modelyard.db.tables import User
from modelyard.errors import Conflict, Unauthenticated, ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.common import not_found
from modelyard.registry.fields import unstorable
from modelyard.registry.oauth_client_rules import (
    CLIENT_ID_MAX,
    grant_problems,
    redirect_uri_matches,
)
from modelyard.registry.oauth_client_specs import (
    NewOAuthClient,
    OAuthClientCreate,
    OAuthClientUpdate,
    OAuthClientView,
)
from modelyard.registry.tx import Database, Tx

__all__ = [
    "NewOAuthClient",
    "OAuthClientCreate",
    "OAuthClientUpdate",
    "OAuthClientView",
    "OAuthClients",
    "authenticate_client",
    "find_client",
    "redirect_uri_matches",
]

SECRET_PREFIX = "mycs_"  # noqa: S105 - a public marker, not a secret
# What an unknown client's secret is compared with, so that it costs what a known one does.
_NO_CLIENT_HASH = hashlib.sha256(b"no such client").hexdigest()


def hash_secret(secret: str) -> str:
    """The SHA-256 kept of a secret; any text hashes (a lone surrogate from a hostile form
    simply does not match)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def snapshot(client: OAuthClient) -> dict[str, object]:
    """What the audit trail keeps of a client: never its secret's hash."""
    return OAuthClientView.model_validate(client).model_dump(mode="json")


class OAuthClients:
    """Admin management of OAuth clients (REST, CLI, seed)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, actor: Actor, spec: OAuthClientCreate) -> NewOAuthClient:
        actor.require_admin("register OAuth clients")
        async with self.db.write(actor) as tx:
            client, secret = await create_client(tx, spec)
            return NewOAuthClient(
                client_secret=secret, client=OAuthClientView.model_validate(client)
            )

    async def list(self, actor: Actor) -> list[OAuthClientView]:
        actor.require_admin("list OAuth clients")
        async with self.db.read(actor) as tx:
            rows = await tx.session.scalars(select(OAuthClient).order_by(OAuthClient.client_id))
            return [OAuthClientView.model_validate(c) for c in rows]

    async def get(self, actor: Actor, client_id: str) -> OAuthClientView:
        actor.require_admin("read OAuth clients")
        async with self.db.read(actor) as tx:
            return OAuthClientView.model_validate(await _load(tx, client_id))

    async def update(
        self, actor: Actor, client_id: str, spec: OAuthClientUpdate
    ) -> OAuthClientView:
        actor.require_admin("change OAuth clients")
        changes = spec.model_dump(exclude_unset=True)
        async with self.db.write(actor) as tx:
            client = await _load(tx, client_id)
            before = snapshot(client)
            for field, value in changes.items():
                setattr(client, field, value)
            await _check(tx, client)
            client.config_version += 1
            client.updated_by = actor.user_id
            client.updated_at = tx.now
            await tx.session.flush()
            after = snapshot(client)
            await tx.record(
                "oauth_client.update",
                "oauth_client",
                client.id,
                before=before,
                after=after,
                config_version=client.config_version,
            )
            return OAuthClientView.model_validate(client)

    async def delete(self, actor: Actor, client_id: str) -> OAuthClientView:
        """Remove a client; its codes, tokens, consents and device codes go with it."""
        actor.require_admin("delete OAuth clients")
        async with self.db.write(actor) as tx:
            client = await _load(tx, client_id)
            view = OAuthClientView.model_validate(client)
            before = snapshot(client)
            await tx.session.delete(client)
            await tx.record("oauth_client.delete", "oauth_client", view.id, before=before)
            return view

    async def rotate_secret(self, actor: Actor, client_id: str) -> NewOAuthClient:
        """A new secret for a confidential client; the old one stops working at once."""
        actor.require_admin("rotate OAuth client secrets")
        async with self.db.write(actor) as tx:
            client = await _load(tx, client_id)
            if client.client_type != "confidential":
                raise Conflict(
                    f"OAuth client {client.client_id!r} is public and has no secret",
                    code="CLIENT_PUBLIC",
                )
            before = snapshot(client)
            secret = new_secret()
            client.secret_hash, client.secret_prefix = hash_secret(secret), secret[:12]
            client.config_version += 1
            client.updated_by = actor.user_id
            client.updated_at = tx.now
            await tx.session.flush()
            await tx.record(
                "oauth_client.rotate_secret",
                "oauth_client",
                client.id,
                before=before,
                after=snapshot(client),
                config_version=client.config_version,
            )
            return NewOAuthClient(
                client_secret=secret, client=OAuthClientView.model_validate(client)
            )


async def create_client(tx: Tx, spec: OAuthClientCreate) -> tuple[OAuthClient, str | None]:
    """Insert and audit a client in ``tx``; returns it and its secret (None if public)."""
    secret = new_secret() if spec.client_type == "confidential" else None
    client = OAuthClient(
        id=uuid.uuid4(),
        **spec.model_dump(),
        secret_hash=hash_secret(secret) if secret else None,
        secret_prefix=secret[:12] if secret else None,
        config_version=1,
        created_by=tx.actor.user_id,
        updated_by=tx.actor.user_id,
        created_at=tx.now,
        updated_at=tx.now,
    )
    await _check(tx, client)
    taken = await tx.session.scalar(
        select(OAuthClient.id).where(OAuthClient.client_id == spec.client_id)
    )
    if taken is not None:
        raise Conflict(f"OAuth client {spec.client_id!r} already exists", code="CLIENT_ID_TAKEN")
    tx.session.add(client)
    await tx.session.flush()
    await tx.record("oauth_client.create", "oauth_client", client.id, after=snapshot(client))
    return client, secret


async def _check(tx: Tx, client: OAuthClient) -> None:
    """The rules that span fields: grants against type, redirect URIs and service user."""
    problems = grant_problems(
        client.client_type,
        client.grant_types,
        client.redirect_uris,
        client.service_user_id is not None,
    )
    if problems:
        field, message = problems[0]
        raise ValidationFailed.at(field, message)
    if client.service_user_id is not None:
        user = await tx.session.get(User, client.service_user_id)
        if user is None or user.deleted_at is not None:
            raise ValidationFailed.at("service_user_id", "is not an existing user")


def _askable(client_id: str) -> bool:
    """Whether ``client_id`` can be looked up at all: one no database could hold (too long,
    NUL, a lone surrogate) names no client, and must not reach the driver as an error."""
    return len(client_id) <= CLIENT_ID_MAX and unstorable(client_id) is None


async def _load(tx: Tx, client_id: str) -> OAuthClient:
    client = None
    if _askable(client_id):
        client = await tx.session.scalar(
            select(OAuthClient).where(OAuthClient.client_id == client_id)
        )
    if client is None:
        raise not_found("oauth_client", repr(client_id[:100]))
    return client


async def find_client(db: Database, client_id: str) -> OAuthClient | None:
    """The enabled client called ``client_id``, or None (unknown and disabled alike)."""
    if not _askable(client_id):
        return None
    async with db.read(Actor.operator("oauth")) as tx:
        return await tx.session.scalar(
            select(OAuthClient).where(OAuthClient.client_id == client_id, OAuthClient.enabled)
        )


async def authenticate_client(db: Database, client_id: str, secret: str) -> OAuthClient:
    """The enabled confidential client ``client_id`` whose secret is ``secret``, else
    UNAUTHENTICATED without saying which part was wrong. The comparison takes the same time
    whether or not the client exists."""
    client = await find_client(db, client_id)
    expected = client.secret_hash if client is not None else None
    given = hash_secret(secret)
    matches = hmac.compare_digest(expected or _NO_CLIENT_HASH, given)
    if client is None or expected is None or not matches:
        raise Unauthenticated("invalid client credentials", code="INVALID_CLIENT")
    return client
