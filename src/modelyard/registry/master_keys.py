"""Master key rotation: add a key, re-seal every secret under it in one transaction, and
retire old keys once nothing is sealed with them any more."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from modelyard.db.tables import Provider
from modelyard.errors import Conflict, Misconfigured
from modelyard.registry.actors import Actor
from modelyard.registry.secrets import (
    Keyring,
    generate_key,
    read_key_file,
    sealed_parts,
    write_key_file,
)
from modelyard.registry.tx import Database
from modelyard.settings import Settings

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class KeyStatus:
    primary: str
    readable: list[str]
    sealed_by: dict[str, int]


def _need_key_file(settings: Settings) -> None:
    if settings.master_key is not None:
        raise Misconfigured(
            "MODELYARD_MASTER_KEY is set, so keys are managed in the environment: put a new "
            "key (`modelyard master-key generate`) first in MODELYARD_MASTER_KEY, comma-"
            "separated, then run `modelyard master-key reseal`"
        )


async def status(db: Database) -> KeyStatus:
    keyring = _keyring(db)
    counts: dict[str, int] = {}
    async with db.read(Actor.operator()) as tx:
        for sealed in await tx.session.scalars(
            select(Provider.api_key_sealed).where(Provider.api_key_sealed.is_not(None))
        ):
            kid = sealed_parts(sealed or "")[1]
            counts[kid] = counts.get(kid, 0) + 1
    return KeyStatus(keyring.primary_id, keyring.ids(), counts)


async def reseal(db: Database, actor: Actor, progress: Progress | None = None) -> int:
    """Re-seal every secret under the primary key, all in one transaction."""
    keyring = _keyring(db)
    async with db.write(actor) as tx:
        providers = (
            await tx.session.scalars(
                select(Provider).where(Provider.api_key_sealed.is_not(None)).order_by(Provider.id)
            )
        ).all()
        for done, provider in enumerate(providers, start=1):
            context = f"provider:{provider.id}"
            plain = keyring.open(provider.api_key_sealed or "", context=context)
            provider.api_key_sealed = keyring.seal(plain, context=context)
            if progress:
                progress(done, len(providers))
        await tx.record(
            "master_key.reseal",
            "master_key",
            keyring.primary_id,
            after={"primary": keyring.primary_id, "resealed": len(providers)},
        )
    return len(providers)


async def rotate(
    db: Database, settings: Settings, actor: Actor, progress: Progress | None = None
) -> tuple[str, int]:
    """Add a new primary key to the key file and re-seal every secret under it."""
    _need_key_file(settings)
    keys = read_key_file(settings.master_key_file)
    new_keys = [generate_key(), *keys]
    write_key_file(settings.master_key_file, new_keys)
    db.keyring = Keyring.from_texts(new_keys, str(settings.master_key_file))
    count = await reseal(db, actor, progress)
    return db.keyring.primary_id, count


async def retire(db: Database, settings: Settings, actor: Actor) -> list[str]:
    """Drop every key but the primary, once no secret is sealed with them."""
    _need_key_file(settings)
    current = await status(db)
    still_used = sorted(k for k in current.sealed_by if k != current.primary)
    if still_used:
        raise Conflict(
            f"secrets are still sealed with {still_used}; run rotate or reseal first",
            code="KEY_IN_USE",
        )
    keys = read_key_file(settings.master_key_file)
    retired = current.readable[1:]
    write_key_file(settings.master_key_file, keys[:1])
    db.keyring = Keyring.from_texts(keys[:1], str(settings.master_key_file))
    async with db.write(actor) as tx:
        await tx.record(
            "master_key.retire",
            "master_key",
            current.primary,
            after={"primary": current.primary, "retired": retired},
        )
    return retired


def _keyring(db: Database) -> Keyring:
    if db.keyring is None:
        raise Misconfigured(
            "no master key is configured; set MODELYARD_MASTER_KEY or run `modelyard init`"
        )
    return db.keyring
