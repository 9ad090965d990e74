"""ID-token signing keys: made on first use, sealed by the master key, published in the JWKS
until their tokens expire after a rotation, and re-sealed when the master key rotates."""

from __future__ import annotations

import json
from datetime import timedelta

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select

from modelyard.db.auth_tables import OAuthSigningKey
from modelyard.db.tables import SystemSetting
from modelyard.db.types import utcnow
from modelyard.registry import master_keys
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.registry.secrets import Keyring
from modelyard.registry.signing_keys import jwks, sealing_context, signing_key
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.registry.helpers import fails, member

ALL = PageRequest(limit=500)


async def _rows(registry: Registry) -> list[OAuthSigningKey]:
    async with registry.db.read(Actor.operator()) as tx:
        return list(await tx.session.scalars(select(OAuthSigningKey)))


def _sign(private: dict[str, object], kid: str) -> str:
    return jwt.encode({"alg": "RS256", "kid": kid}, {"sub": "u1"}, RSAKey.import_key(private))


def _verify(token: str, published: dict[str, object]) -> str:
    return str(jwt.decode(token, KeySet.import_key_set(published)).claims["sub"])


async def test_the_first_key_is_made_once_sealed_and_audited(
    registry: Registry, admin: Actor
) -> None:
    kid, private = await signing_key(registry.db)
    again, _ = await signing_key(registry.db)
    assert again == kid
    assert (private["kid"], private["alg"], private["kty"]) == (kid, "RS256", "RSA")
    assert "d" in private

    [row] = await _rows(registry)
    assert row.kid == kid
    assert "d" not in row.public_jwk
    assert str(private["d"]) not in row.private_sealed
    assert registry.db.keyring is not None
    assert row.private_sealed.startswith(f"v1.{registry.db.keyring.primary_id}.")
    page = await registry.audit.list(admin, ALL)
    made = [e for e in page.items if e.action == "oauth_signing_key.create"]
    assert len(made) == 1
    assert str(private["d"]) not in str(made[0].after)

    published = await jwks(registry.db)
    assert [k["kid"] for k in published["keys"]] == [kid]
    assert all("d" not in k for k in published["keys"])
    assert _verify(_sign(private, kid), published) == "u1"


async def test_rotation_keeps_the_old_key_published_until_its_tokens_expire(
    registry: Registry, admin: Actor
) -> None:
    old_kid, old_private = await signing_key(registry.db)
    old_token = _sign(old_private, old_kid)

    new = await registry.signing_keys.rotate(admin)

    assert (new.signing, new.published) == (True, True)
    kid, private = await signing_key(registry.db)
    assert kid == new.kid != old_kid
    published = await jwks(registry.db)
    assert [k["kid"] for k in published["keys"]] == [new.kid, old_kid]
    assert _verify(old_token, published) == "u1"
    assert _verify(_sign(private, kid), published) == "u1"
    listed = {k.kid: k for k in await registry.signing_keys.list(admin)}
    retired = listed[old_kid]
    assert (retired.signing, retired.published) == (False, True)
    assert retired.retired_at is not None
    assert retired.expires_at is not None
    assert retired.expires_at - retired.retired_at == timedelta(seconds=3600 + 60)

    later = utcnow() + timedelta(hours=2)
    registry.db.clock = lambda: later
    assert [k["kid"] for k in (await jwks(registry.db))["keys"]] == [new.kid]
    newest = await registry.signing_keys.rotate(admin)
    kids = {row.kid for row in await _rows(registry)}
    assert kids == {new.kid, newest.kid}  # the expired one is gone
    page = await registry.audit.list(admin, ALL)
    rotations = [e.after for e in page.items if e.action == "oauth_signing_key.rotate"]
    assert {"retired": [new.kid], "removed": [old_kid]}.items() <= max(
        rotations, key=lambda a: len(a["removed"])
    ).items()


async def test_a_longer_token_lifetime_keeps_retired_keys_longer(
    registry: Registry, admin: Actor
) -> None:
    await signing_key(registry.db)
    async with registry.db.write(admin) as tx:  # the setting is declared by the token service
        tx.session.add(SystemSetting(key="auth.access_token_ttl_s", value=7200, updated_at=tx.now))
    await registry.signing_keys.rotate(admin)
    retired = [k for k in await registry.signing_keys.list(admin) if not k.signing]
    assert retired[0].expires_at is not None
    assert retired[0].retired_at is not None
    assert retired[0].expires_at - retired[0].retired_at == timedelta(seconds=7200 + 60)


async def test_members_may_not_list_or_rotate(registry: Registry, admin: Actor) -> None:
    alice = await member(registry, admin)
    await fails(registry, "FORBIDDEN", registry.signing_keys.rotate(alice))
    await fails(registry, "FORBIDDEN", registry.signing_keys.list(alice))


async def test_master_key_rotation_reseals_signing_keys(
    registry: Registry, admin: Actor, settings: Settings
) -> None:
    kid, private = await signing_key(registry.db)
    await registry.signing_keys.rotate(admin)  # a retired key is re-sealed too

    primary, count = await master_keys.rotate(registry.db, settings, admin)
    assert count == 2
    assert (await master_keys.status(registry.db)).sealed_by == {primary: 2}
    await master_keys.retire(registry.db, settings, admin)

    only_new = Keyring.from_settings(settings)
    row = next(r for r in await _rows(registry) if r.kid == kid)
    assert row.private_sealed.startswith(f"v1.{primary}.")
    assert only_new.open(row.private_sealed, context=sealing_context(kid)) == json.dumps(private)
    fresh = Registry.open(settings)
    try:
        new_kid, _ = await signing_key(fresh.db)
        assert new_kid != kid
    finally:
        await fresh.close()


async def test_a_signing_key_sealed_under_a_missing_master_key_stops_a_reseal(
    registry: Registry, admin: Actor, settings: Settings
) -> None:
    await signing_key(registry.db)
    registry.db.keyring = Keyring.from_texts([master_keys.generate_key()], "other")
    error = await fails(registry, "SECRET_UNREADABLE", master_keys.reseal(registry.db, admin))
    assert "signing key" in error.message
