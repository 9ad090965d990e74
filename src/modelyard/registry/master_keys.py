"""Master key rotation: add a key, re-seal every secret (provider keys, ID-token signing
keys) under it in one transaction, and retire old keys once nothing is sealed with them any
more.

Every step runs under the registry's write lock, which every sealing write takes too: two
rotations never interleave their key-file edits, no secret is sealed between a rotation's
new key and its re-seal under the old one unnoticed, and ``retire`` drops a key only when,
under that lock, nothing is sealed with it. A running server meets the new key id when its
snapshot re-opens the re-sealed secrets and re-reads the key file then (see
:class:`~modelyard.registry.secrets.Keyring`); the keys it already opened keep serving.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from modelyard.db.auth_tables import OAuthSigningKey
from modelyard.db.tables import Provider
from modelyard.errors import Conflict, Misconfigured, SecretUnreadable
from modelyard.registry.actors import Actor
from modelyard.registry.secrets import (
    Keyring,
    generate_key,
    read_key_file,
    sealed_parts,
    write_key_file,
)
from modelyard.registry.signing_keys import sealing_context
from modelyard.registry.tx import Database, Tx
from modelyard.settings import Settings

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class KeyStatus:
    primary: str
    readable: list[str]
    sealed_by: dict[str, int]


def _need_key_file(settings: Settings, what: str) -> None:
    if settings.master_key is not None:
        raise Misconfigured(
            f"MODELYARD_MASTER_KEY is set, so keys are managed in the environment: {what}"
        )


ENV_ROTATE = (
    "add a new key (`modelyard master-key generate`) to MODELYARD_MASTER_KEY on every server, "
    "restart them, then run `modelyard master-key reseal` (docs/security.md)"
)
ENV_RETIRE = (
    "remove the old keys from MODELYARD_MASTER_KEY once `modelyard master-key status` shows "
    "nothing sealed with them"
)


@dataclass
class _Opened:
    """One sealed secret, opened for re-sealing: the row, its column and its context."""

    row: Provider | OAuthSigningKey
    column: str
    context: str
    plain: str


async def _sealed_by(tx: Tx) -> dict[str, int]:
    counts: dict[str, int] = {}
    provider_keys = await tx.session.scalars(
        select(Provider.api_key_sealed).where(Provider.api_key_sealed.is_not(None))
    )
    signing_keys = await tx.session.scalars(select(OAuthSigningKey.private_sealed))
    for sealed in [*provider_keys, *signing_keys]:
        kid = sealed_parts(sealed or "")[1]
        counts[kid] = counts.get(kid, 0) + 1
    return counts


async def status(db: Database) -> KeyStatus:
    keyring = _keyring(db)
    keyring.reload()
    async with db.read(Actor.operator()) as tx:
        counts = await _sealed_by(tx)
    return KeyStatus(keyring.primary_id, keyring.ids(), counts)


def _open_one(keyring: Keyring, sealed: str, context: str, what: str) -> str:
    try:
        return keyring.open(sealed, context=context)
    except SecretUnreadable as exc:
        raise SecretUnreadable(
            f"{what} cannot be re-sealed: {exc.message}; nothing was changed"
        ) from None


async def _open_all(tx: Tx, keyring: Keyring) -> list[_Opened]:
    """Every sealed secret (provider keys, ID-token signing keys), opened (rows locked for
    the re-seal); one that does not open fails the whole operation, naming its owner,
    before anything is changed."""
    keyring.reload()
    providers = (
        await tx.session.scalars(
            select(Provider)
            .where(Provider.api_key_sealed.is_not(None))
            .order_by(Provider.id)
            .with_for_update()
        )
    ).all()
    opened: list[_Opened] = []
    for provider in providers:
        context = f"provider:{provider.id}"
        what = f"provider {provider.name!r}"
        plain = _open_one(keyring, provider.api_key_sealed or "", context, what)
        opened.append(_Opened(provider, "api_key_sealed", context, plain))
    signing = await tx.session.scalars(
        select(OAuthSigningKey).order_by(OAuthSigningKey.kid).with_for_update()
    )
    for key in signing.all():
        context = sealing_context(key.kid)
        plain = _open_one(keyring, key.private_sealed, context, f"signing key {key.kid}")
        opened.append(_Opened(key, "private_sealed", context, plain))
    return opened


def _seal_all(opened: list[_Opened], keyring: Keyring, progress: Progress | None) -> int:
    """Re-seal every opened secret under the primary key."""
    for done, item in enumerate(opened, start=1):
        setattr(item.row, item.column, keyring.seal(item.plain, context=item.context))
        if progress:
            progress(done, len(opened))
    return len(opened)


async def reseal(db: Database, actor: Actor, progress: Progress | None = None) -> int:
    """Re-seal every secret under the primary key, all in one transaction."""
    keyring = _keyring(db)
    async with db.write(actor) as tx:
        count = _seal_all(await _open_all(tx, keyring), keyring, progress)
        await tx.record(
            "master_key.reseal",
            "master_key",
            keyring.primary_id,
            after={"primary": keyring.primary_id, "resealed": count},
        )
    return count


async def rotate(
    db: Database, settings: Settings, actor: Actor, progress: Progress | None = None
) -> tuple[str, int]:
    """Add a new primary key to the key file and re-seal every secret under it."""
    _need_key_file(settings, ENV_ROTATE)
    path = settings.master_key_file
    async with db.write(actor) as tx:
        keys = read_key_file(path)
        opened = await _open_all(tx, _follow(db, path, keys))  # before the file changes
        new_keys = [generate_key(), *keys]
        write_key_file(path, new_keys)
        keyring = _follow(db, path, new_keys)
        count = _seal_all(opened, keyring, progress)
        await tx.record(
            "master_key.rotate",
            "master_key",
            keyring.primary_id,
            after={"primary": keyring.primary_id, "resealed": count},
        )
    return keyring.primary_id, count


async def retire(db: Database, settings: Settings, actor: Actor) -> list[str]:
    """Drop every key but the primary, once no secret is sealed with them."""
    _need_key_file(settings, ENV_RETIRE)
    path = settings.master_key_file
    async with db.write(actor) as tx:
        keys = read_key_file(path)
        keyring = _follow(db, path, keys)
        still_used = sorted(k for k in await _sealed_by(tx) if k != keyring.primary_id)
        if still_used:
            raise Conflict(
                f"secrets are still sealed with {still_used}; run `modelyard master-key "
                "reseal` first",
                code="KEY_IN_USE",
            )
        retired = keyring.ids()[1:]
        if not retired:
            return []
        write_key_file(path, keys[:1])
        keyring.replace(keys[:1])
        await tx.record(
            "master_key.retire",
            "master_key",
            keyring.primary_id,
            after={"primary": keyring.primary_id, "retired": retired},
        )
    return retired


def _follow(db: Database, path: Path, texts: list[str]) -> Keyring:
    """The database's keyring, now holding ``texts`` (what the key file holds)."""
    if db.keyring is not None and db.keyring.path == path:
        db.keyring.replace(texts)
    else:
        db.keyring = Keyring.from_texts(texts, str(path), path)
    return db.keyring


def _keyring(db: Database) -> Keyring:
    if db.keyring is None:
        raise Misconfigured(
            "no master key is configured; set MODELYARD_MASTER_KEY or run `modelyard init`"
        )
    return db.keyring
