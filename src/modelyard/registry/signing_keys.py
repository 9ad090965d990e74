"""The keys that sign ID tokens (RS256), their JWKS, and their rotation.

The newest unretired key signs. Its private half is sealed by the master key (the context
binds it to its kid, so a sealed value copied onto another row does not open) and re-sealed
with everything else when the master key rotates (registry/master_keys.py). Rotating makes a
new key and retires the old one; a retired key stays in the JWKS until every token it may
have signed has expired (now + the longest token lifetime + a minute for a token signed
meanwhile on another replica), then rotation removes it. The first key is made on first use.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import or_, select

from modelyard.db.auth_tables import OAuthSigningKey
from modelyard.db.tables import SystemSetting
from modelyard.registry.actors import Actor
from modelyard.registry.common import View
from modelyard.registry.secrets import Keyring
from modelyard.registry.tx import Database, Tx

ALG = "RS256"
KEY_BITS = 2048
# The token lifetimes (system settings) a retired key must outlive, with their defaults.
TOKEN_TTLS = {"auth.access_token_ttl_s": 3600}  # ID tokens live as long as access tokens
SKEW = timedelta(minutes=1)
SYSTEM = Actor.operator("system:signing-keys")


def sealing_context(kid: str) -> str:
    return f"oauth_signing_key:{kid}"


class SigningKeyView(View):
    """A signing key as admins see it: never its private half."""

    kid: str
    alg: str
    created_at: datetime
    retired_at: datetime | None
    expires_at: datetime | None
    signing: bool
    published: bool
    public_jwk: dict[str, Any]


def _view(row: OAuthSigningKey, now: datetime, signing_kid: str | None) -> SigningKeyView:
    return SigningKeyView(
        kid=row.kid,
        alg=row.alg,
        created_at=row.created_at,
        retired_at=row.retired_at,
        expires_at=row.expires_at,
        signing=row.kid == signing_kid,
        published=_published(row, now),
        public_jwk=row.public_jwk,
    )


def _published(row: OAuthSigningKey, now: datetime) -> bool:
    return row.retired_at is None or (row.expires_at is not None and row.expires_at > now)


def _snapshot(row: OAuthSigningKey) -> dict[str, Any]:
    """What the audit trail keeps of a key: its id and times, never its private half."""
    return {
        "kid": row.kid,
        "alg": row.alg,
        "retired_at": row.retired_at.isoformat() if row.retired_at else None,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
    }


async def _current(tx: Tx) -> OAuthSigningKey | None:
    return await tx.session.scalar(
        select(OAuthSigningKey)
        .where(OAuthSigningKey.retired_at.is_(None))
        .order_by(OAuthSigningKey.created_at.desc(), OAuthSigningKey.kid)
        .limit(1)
    )


async def _create(tx: Tx) -> OAuthSigningKey:
    key = RSAKey.generate_key(KEY_BITS, parameters={"alg": ALG, "use": "sig"})
    kid = key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "alg": ALG, "use": "sig"}
    private = {**key.as_dict(private=True), "kid": kid, "alg": ALG, "use": "sig"}
    row = OAuthSigningKey(
        kid=kid,
        alg=ALG,
        private_sealed=tx.keyring.seal(json.dumps(private), context=sealing_context(kid)),
        public_jwk=public,
        created_at=tx.now,
    )
    tx.session.add(row)
    await tx.session.flush()
    return row


def _open(keyring: Keyring, row: OAuthSigningKey) -> dict[str, Any]:
    opened: dict[str, Any] = json.loads(
        keyring.open(row.private_sealed, context=sealing_context(row.kid))
    )
    return opened


async def signing_key(db: Database) -> tuple[str, dict[str, Any]]:
    """The kid and private JWK (a dict joserfc/Authlib take) of the key that signs now,
    made (and audited) if there is none yet."""
    async with db.read(SYSTEM) as tx:
        row = await _current(tx)
        if row is not None:
            return row.kid, _open(tx.keyring, row)
    async with db.write(SYSTEM) as tx:
        row = await _current(tx)  # another process may have made it meanwhile
        if row is None:
            row = await _create(tx)
            await tx.record(
                "oauth_signing_key.create", "oauth_signing_key", row.kid, after=_snapshot(row)
            )
        return row.kid, _open(tx.keyring, row)


async def jwks(db: Database) -> dict[str, Any]:
    """The JSON Web Key Set: the public halves of the signing key and of retired keys whose
    tokens may still be valid, newest first."""
    async with db.read(SYSTEM) as tx:
        rows = await tx.session.scalars(
            select(OAuthSigningKey)
            .where(or_(OAuthSigningKey.retired_at.is_(None), OAuthSigningKey.expires_at > tx.now))
            .order_by(OAuthSigningKey.created_at.desc(), OAuthSigningKey.kid)
        )
        return {"keys": [dict(row.public_jwk) for row in rows]}


async def _retention(tx: Tx) -> timedelta:
    """How long a retired key stays published: the longest token lifetime, plus skew."""
    stored = {
        s.key: s.value
        for s in await tx.session.scalars(
            select(SystemSetting).where(SystemSetting.key.in_(list(TOKEN_TTLS)))
        )
    }
    seconds = 0
    for key, default in TOKEN_TTLS.items():
        value = stored.get(key, default)
        seconds = max(seconds, value if isinstance(value, int) else default)
    return timedelta(seconds=seconds) + SKEW


class SigningKeys:
    """Admin view and rotation of the ID-token signing keys."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, actor: Actor) -> list[SigningKeyView]:
        actor.require_admin("list signing keys")
        async with self.db.read(actor) as tx:
            rows = (
                await tx.session.scalars(
                    select(OAuthSigningKey).order_by(
                        OAuthSigningKey.created_at.desc(), OAuthSigningKey.kid
                    )
                )
            ).all()
            current = await _current(tx)
            return [_view(r, tx.now, current.kid if current else None) for r in rows]

    async def rotate(self, actor: Actor) -> SigningKeyView:
        """A new signing key; the old one is retired but published until its tokens expire.
        Retired keys past that time are removed."""
        actor.require_admin("rotate signing keys")
        async with self.db.write(actor) as tx:
            keep_until = tx.now + await _retention(tx)
            rows = (await tx.session.scalars(select(OAuthSigningKey))).all()
            retired, removed = [], []
            for row in rows:
                if row.retired_at is None:
                    row.retired_at, row.expires_at = tx.now, keep_until
                    retired.append(row.kid)
                elif not _published(row, tx.now):
                    await tx.session.delete(row)
                    removed.append(row.kid)
            new = await _create(tx)
            await tx.record(
                "oauth_signing_key.rotate",
                "oauth_signing_key",
                new.kid,
                after=_snapshot(new) | {"retired": sorted(retired), "removed": sorted(removed)},
            )
            return _view(new, tx.now, new.kid)
