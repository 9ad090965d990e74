"""Provider keys sealed at rest: AES-GCM bound to the row, no default key, master key rotation."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, update

from modelyard.db.tables import Provider
from modelyard.errors import Misconfigured, SecretUnreadable
from modelyard.registry import master_keys
from modelyard.registry.actors import Actor
from modelyard.registry.secrets import Keyring, generate_key, mask, read_key_file, write_key_file
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.registry.helpers import fails, ollama, openai

KEY_A = "sk-test-aaaaaaaaaaaaaaaaaaaa-1111"
KEY_B = "sk-test-bbbbbbbbbbbbbbbbbbbb-2222"


async def _sealed(registry: Registry, provider_id: uuid.UUID) -> str | None:
    async with registry.db.engine.connect() as conn:
        return await conn.scalar(select(Provider.api_key_sealed).where(Provider.id == provider_id))


async def _two_keyed_providers(registry: Registry, admin: Actor) -> tuple[uuid.UUID, uuid.UUID]:
    a = await registry.providers.create(admin, openai("a", key=KEY_A))
    b = await registry.providers.create(admin, openai("b", key=KEY_B))
    await registry.providers.create(admin, ollama("keyless"))
    return a.id, b.id


async def test_provider_keys_are_sealed_with_aes_gcm_under_the_primary_key(
    registry: Registry, admin: Actor
) -> None:
    a, _ = await _two_keyed_providers(registry, admin)
    keyring = registry.db.keyring
    assert keyring is not None

    sealed = await _sealed(registry, a)

    assert sealed is not None
    assert sealed.startswith(f"v1.{keyring.primary_id}.")
    assert KEY_A not in sealed
    assert keyring.open(sealed, context=f"provider:{a}") == KEY_A
    assert (await registry.providers.get(admin, a)).api_key == mask(KEY_A)


async def test_a_sealed_key_opens_only_on_its_own_row(registry: Registry, admin: Actor) -> None:
    a, b = await _two_keyed_providers(registry, admin)
    keyring = registry.db.keyring
    assert keyring is not None
    async with registry.db.engine.begin() as conn:
        await conn.execute(
            update(Provider)
            .where(Provider.id == b)
            .values(api_key_sealed=await _sealed(registry, a))
        )
    copied = await _sealed(registry, b)
    assert copied is not None

    with pytest.raises(SecretUnreadable):
        keyring.open(copied, context=f"provider:{b}")
    assert keyring.open(copied, context=f"provider:{a}") == KEY_A
    await fails(registry, "SECRET_UNREADABLE", master_keys.reseal(registry.db, admin))


async def test_a_keyring_without_the_sealing_key_cannot_open_secrets(
    registry: Registry, admin: Actor
) -> None:
    a, _ = await _two_keyed_providers(registry, admin)
    sealed = await _sealed(registry, a)
    assert sealed is not None
    stranger = Keyring.from_texts([generate_key()], "test")

    with pytest.raises(SecretUnreadable) as info:
        stranger.open(sealed, context=f"provider:{a}")

    assert info.value.code == "SECRET_UNREADABLE"
    registry.db.keyring = stranger
    await fails(registry, "SECRET_UNREADABLE", master_keys.reseal(registry.db, admin))


def test_there_is_no_built_in_master_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELYARD_MASTER_KEY", raising=False)
    settings = Settings(master_key_file=tmp_path / "absent.key")

    with pytest.raises(Misconfigured) as info:
        Keyring.from_settings(settings)

    assert info.value.code == "MISCONFIGURED"
    assert "MODELYARD_MASTER_KEY" in info.value.message
    assert "modelyard init" in info.value.message


async def test_without_a_master_key_sealing_fails_as_misconfigured(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELYARD_MASTER_KEY", raising=False)
    settings = Settings(database_url=database_url, master_key_file=tmp_path / "absent.key")
    registry = Registry.open(settings)
    try:
        assert registry.db.keyring is None
        call = registry.providers.create(Actor.operator(), openai("a", key=KEY_A))
        error = await fails(registry, "MISCONFIGURED", call)
        assert "MODELYARD_MASTER_KEY" in error.message
    finally:
        await registry.close()


async def test_rotation_reseals_every_secret_and_retire_drops_the_old_key(
    registry: Registry, admin: Actor, settings: Settings
) -> None:
    a, b = await _two_keyed_providers(registry, admin)
    old = read_key_file(settings.master_key_file)

    primary, count = await master_keys.rotate(registry.db, settings, admin)

    assert count == 2
    assert read_key_file(settings.master_key_file)[1:] == old
    keyring = Keyring.from_settings(settings)
    assert keyring.primary_id == primary
    for provider_id, plain in ((a, KEY_A), (b, KEY_B)):
        sealed = await _sealed(registry, provider_id)
        assert sealed is not None
        assert sealed.startswith(f"v1.{primary}.")
        assert keyring.open(sealed, context=f"provider:{provider_id}") == plain

    retired = await master_keys.retire(registry.db, settings, admin)

    assert retired == [Keyring.from_texts(old, "old").primary_id]
    assert len(read_key_file(settings.master_key_file)) == 1
    only_new = Keyring.from_settings(settings)
    sealed_a = await _sealed(registry, a)
    assert sealed_a is not None
    assert only_new.open(sealed_a, context=f"provider:{a}") == KEY_A


async def test_retire_refuses_while_an_old_key_still_seals_a_secret(
    registry: Registry, admin: Actor, settings: Settings
) -> None:
    await _two_keyed_providers(registry, admin)
    old = read_key_file(settings.master_key_file)
    keys = [generate_key(), *old]  # a new primary, but nothing resealed yet
    write_key_file(settings.master_key_file, keys)
    registry.db.keyring = Keyring.from_texts(keys, "test")

    error = await fails(registry, "KEY_IN_USE", master_keys.retire(registry.db, settings, admin))

    assert Keyring.from_texts(old, "old").primary_id in error.message
    assert read_key_file(settings.master_key_file) == keys
