"""Master keys across processes: a server (``registry``) and another process (``other``, as
the CLI or another replica would be) share one key file and one database. Whatever order
the other process rotates and retires in, the server opens what it re-sealed, seals under
the newest primary, and never seals under a key about to be retired."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from modelyard.db.tables import Provider
from modelyard.registry import master_keys
from modelyard.registry.actors import Actor
from modelyard.registry.secrets import Keyring, generate_key, read_key_file
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.registry.helpers import openai

KEY_A = "sk-test-aaaaaaaaaaaaaaaaaaaa-1111"
KEY_B = "sk-test-bbbbbbbbbbbbbbbbbbbb-2222"
OPERATOR = Actor.operator("cli")


@pytest.fixture
async def other(settings: Settings, admin: Actor) -> AsyncIterator[Registry]:
    """Another process on the same database and key file (opened after the key exists)."""
    registry = Registry.open(settings)
    yield registry
    await registry.close()


async def _sealed(registry: Registry, provider_id: uuid.UUID) -> str:
    async with registry.db.engine.connect() as conn:
        found = await conn.scalar(select(Provider.api_key_sealed).where(Provider.id == provider_id))
    assert found is not None
    return found


def _ring(registry: Registry) -> Keyring:
    assert registry.db.keyring is not None
    return registry.db.keyring


async def test_a_server_follows_rotate_and_retire_run_by_another_process(
    registry: Registry, other: Registry, admin: Actor, settings: Settings
) -> None:
    a = await registry.providers.create(admin, openai("a", key=KEY_A))
    old = _ring(registry).primary_id

    primary, count = await master_keys.rotate(other.db, settings, OPERATOR)
    assert count == 1

    # the server opens what the other process re-sealed under a key it had never seen
    resealed = await _sealed(registry, a.id)
    assert resealed.startswith(f"v1.{primary}.")
    assert _ring(registry).open(resealed, context=f"provider:{a.id}") == KEY_A
    # and seals what it writes under the new primary, not under the key about to retire
    b = await registry.providers.create(admin, openai("b", key=KEY_B))
    assert (await _sealed(registry, b.id)).startswith(f"v1.{primary}.")
    await registry.providers.rotate_key(admin, a.id, KEY_B)
    assert (await _sealed(registry, a.id)).startswith(f"v1.{primary}.")

    assert await master_keys.retire(other.db, settings, OPERATOR) == [old]

    only_new = Keyring.from_settings(settings)
    assert only_new.open(await _sealed(registry, a.id), context=f"provider:{a.id}") == KEY_B
    assert only_new.open(await _sealed(registry, b.id), context=f"provider:{b.id}") == KEY_B
    assert (await master_keys.status(registry.db)).readable == [primary]


async def test_rotations_from_two_processes_keep_every_key(
    registry: Registry, other: Registry, admin: Actor, settings: Settings
) -> None:
    a = await registry.providers.create(admin, openai("a", key=KEY_A))
    first, _ = await master_keys.rotate(registry.db, settings, OPERATOR)
    second, _ = await master_keys.rotate(other.db, settings, OPERATOR)

    ids = Keyring.from_settings(settings).ids()
    assert ids[:2] == [second, first]
    assert len(ids) == 3
    assert (await _sealed(registry, a.id)).startswith(f"v1.{second}.")
    assert _ring(registry).open(await _sealed(other, a.id), context=f"provider:{a.id}") == KEY_A


async def test_retire_refuses_while_a_server_sealed_with_an_old_key(
    registry: Registry, other: Registry, admin: Actor, settings: Settings
) -> None:
    """A server holding only older keys (say, a replica with its own, not yet updated key
    file) sealed a secret: retire refuses, names the key, and changes nothing."""
    await master_keys.rotate(other.db, settings, OPERATOR)
    lagging = Keyring.from_texts(read_key_file(settings.master_key_file)[1:], "lagging")
    registry.db.keyring = lagging  # no key file to follow
    await registry.providers.create(admin, openai("a", key=KEY_A))
    before = read_key_file(settings.master_key_file)

    with pytest.raises(Exception, match=lagging.primary_id) as info:
        await master_keys.retire(other.db, settings, OPERATOR)

    assert getattr(info.value, "code", None) == "KEY_IN_USE"
    assert read_key_file(settings.master_key_file) == before
    assert "reseal" in str(info.value)


async def test_environment_keys_rotate_without_a_failed_open(
    registry: Registry, admin: Actor, settings: Settings
) -> None:
    """The documented MODELYARD_MASTER_KEY procedure: the new key is added everywhere as a
    second key first, so servers can open what a re-seal under it writes; then it becomes
    the primary, then the old key goes."""
    a = await registry.providers.create(admin, openai("a", key=KEY_A))
    old, new = read_key_file(settings.master_key_file)[0], generate_key()

    def environment(keys: str) -> Settings:
        return settings.model_copy(update={"master_key": SecretStr(keys)})

    server = Keyring.from_settings(environment(f"{old},{new}"))  # 1. added everywhere
    cli = Registry.open(environment(f"{new},{old}"))  # 2. re-seal under the new key
    try:
        assert await master_keys.reseal(cli.db, OPERATOR) == 1
        with pytest.raises(Exception, match="MODELYARD_MASTER_KEY"):
            await master_keys.retire(cli.db, environment(f"{new},{old}"), OPERATOR)
    finally:
        await cli.close()
    sealed = await _sealed(registry, a.id)
    assert server.open(sealed, context=f"provider:{a.id}") == KEY_A
    promoted = Keyring.from_settings(environment(f"{new},{old}"))  # 3. new key first
    assert promoted.open(sealed, context=f"provider:{a.id}") == KEY_A
    only_new = Keyring.from_settings(environment(new))  # 4. old key removed
    assert only_new.open(sealed, context=f"provider:{a.id}") == KEY_A


async def test_a_broken_key_file_is_not_followed_and_a_keyring_never_prints_keys(
    registry: Registry, admin: Actor, settings: Settings
) -> None:
    ring = _ring(registry)
    [text] = read_key_file(settings.master_key_file)
    before = ring.ids()
    settings.master_key_file.write_text("not base64\n")

    assert ring.reload() is False
    assert ring.ids() == before
    a = await registry.providers.create(admin, openai("a", key=KEY_A))  # still seals
    assert (await _sealed(registry, a.id)).startswith(f"v1.{before[0]}.")
    assert text not in repr(ring)
    assert before[0] in repr(ring)
