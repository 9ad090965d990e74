"""`modelyard master-key`: rotation re-seals every provider key; retire drops old keys."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from sqlalchemy import select, update

from modelyard.db.engine import create_engine
from modelyard.db.tables import AuditEvent, Provider
from modelyard.errors import SecretUnreadable
from modelyard.registry.secrets import Keyring, generate_key, read_key_file
from tests.cli.conftest import Cli, sealed_keys

KEYS = {"openai": "sk-openai-0123456789abcdef", "claude": "sk-ant-0123456789abcdef"}


@pytest.fixture
def keyed(ready: Cli) -> Cli:
    """Two providers with sealed API keys."""
    ready.ok(
        "providers",
        "add",
        "--name=openai",
        "--kind=openai",
        "--api-key-stdin",
        input=KEYS["openai"],
    )
    ready.ok(
        "providers",
        "add",
        "--name=claude",
        "--kind=anthropic",
        "--api-key-stdin",
        input=KEYS["claude"],
    )
    return ready


def file_keyring(cli: Cli) -> Keyring:
    return Keyring.from_texts(read_key_file(cli.key_file), "test")


def plaintexts(cli: Cli, keyring: Keyring, sealed: dict[str, str]) -> dict[str, str]:
    names = {p["id"]: p["name"] for p in cli.json("providers", "list")["items"]}
    return {
        names[pid]: keyring.open(value, context=f"provider:{pid}") for pid, value in sealed.items()
    }


def test_rotate_reseals_every_secret_and_retire_drops_the_old_key(keyed: Cli) -> None:
    old_primary = keyed.json("master-key", "status")["primary"]
    before = sealed_keys(keyed.database_url)
    assert {v.split(".")[1] for v in before.values()} == {old_primary}

    rotated = keyed.ok("master-key", "rotate")
    assert "2 secret(s) re-sealed" in rotated.stdout
    assert "2/2" in rotated.stderr  # the progress bar
    after = sealed_keys(keyed.database_url)
    status = keyed.json("master-key", "status")
    new_primary = status["primary"]
    assert new_primary != old_primary
    assert status["readable"] == [new_primary, old_primary]
    assert status["sealed_by"] == {new_primary: 2}
    assert after.keys() == before.keys()
    assert all(after[pid] != before[pid] for pid in before)
    assert {v.split(".")[1] for v in after.values()} == {new_primary}

    both = file_keyring(keyed)
    assert len(both.keys) == 2
    assert plaintexts(keyed, both, after) == KEYS
    assert plaintexts(keyed, both, before) == KEYS  # the old key still reads until retired

    retired = keyed.json("master-key", "retire")
    assert retired == {"retired": [old_primary]}
    assert len(read_key_file(keyed.key_file)) == 1
    only_new = file_keyring(keyed)
    assert plaintexts(keyed, only_new, after) == KEYS
    with pytest.raises(SecretUnreadable):
        plaintexts(keyed, only_new, before)
    keyed.ok("doctor")


def test_rotate_with_retire_leaves_one_key(keyed: Cli) -> None:
    result = keyed.json("master-key", "rotate", "--retire")
    assert result["resealed"] == 2
    assert len(result["retired"]) == 1
    assert len(read_key_file(keyed.key_file)) == 1
    assert keyed.json("master-key", "status")["sealed_by"] == {result["primary"]: 2}
    assert plaintexts(keyed, file_keyring(keyed), sealed_keys(keyed.database_url)) == KEYS


def test_keys_in_the_environment_are_rotated_with_reseal(keyed: Cli) -> None:
    old = read_key_file(keyed.key_file)[0]
    new = keyed.ok("master-key", "generate").stdout.strip()
    env: dict[str, str | None] = {"MODELYARD_MASTER_KEY": f"{new},{old}"}
    assert "MODELYARD_MASTER_KEY is set" in keyed.fails("master-key", "rotate", env=env)
    assert keyed.json("master-key", "reseal", env=env) == {"resealed": 2}
    ring = Keyring.from_texts([new], "test")
    assert plaintexts(keyed, ring, sealed_keys(keyed.database_url)) == KEYS


def test_master_key_commands_say_how_to_fix_a_missing_key(cli: Cli) -> None:
    message = cli.fails("master-key", "status")
    assert "does not exist" in message
    assert "modelyard init" in message


def _audit_rows(database_url: str) -> list[str]:
    async def _read() -> list[str]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return [repr(tuple(r)) for r in await conn.execute(select(AuditEvent.__table__))]
        finally:
            await engine.dispose()

    return asyncio.run(_read())


def _break_one_secret(cli: Cli, name: str) -> str:
    """Re-seal provider ``name``'s key under a master key nobody configured; its key id."""
    stranger = Keyring.from_texts([generate_key()], "stranger")
    pid = next(p["id"] for p in cli.json("providers", "list")["items"] if p["name"] == name)

    async def _write() -> None:
        engine = create_engine(cli.database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    update(Provider)
                    .where(Provider.id == uuid.UUID(pid))
                    .values(api_key_sealed=stranger.seal("x", context=f"provider:{pid}"))
                )
        finally:
            await engine.dispose()

    asyncio.run(_write())
    return stranger.primary_id


def test_planted_keys_never_appear_in_rotation_output_logs_or_audit(
    ready: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    planted = {name: f"sk-PLANTED-{name}-{uuid.uuid4().hex}" for name in ("one", "two")}
    for name, key in planted.items():
        ready.ok(
            "providers", "add", f"--name={name}", "--kind=openai", "--api-key-stdin", input=key
        )
    outputs: list[str] = []
    for command in (
        ("master-key", "status"),
        ("master-key", "rotate"),
        ("master-key", "reseal"),
        ("master-key", "status"),
        ("master-key", "retire"),
        ("master-key", "rotate", "--retire"),
        ("doctor",),
    ):
        for json_flag in ((), ("--json",)):
            result = ready.ok(*command, *json_flag)
            outputs += [result.stdout, result.stderr]
    # failures name the provider and the key id, never the key
    kid = _break_one_secret(ready, "two")
    doctor = ready("doctor", "--json")
    assert doctor.exit_code == 1
    assert f"two (a secret is sealed with master key {kid}" in doctor.stdout
    outputs += [doctor.stdout, doctor.stderr, ready("doctor").stdout]
    failed = ready.fails("master-key", "reseal", "--json")
    assert "provider 'two' cannot be re-sealed" in failed
    assert kid in failed
    outputs += [failed, ready.fails("master-key", "rotate", "--json")]

    texts = [*outputs, *_audit_rows(ready.database_url), caplog.text]
    texts += [repr(r.args) for r in caplog.records]
    assert any("master_key.rotate" in t for t in texts)
    for key in planted.values():
        assert [t for t in texts if key in t] == []


def test_a_rotation_that_cannot_open_a_secret_changes_nothing(keyed: Cli) -> None:
    keys, sealed = read_key_file(keyed.key_file), sealed_keys(keyed.database_url)
    kid = _break_one_secret(keyed, "claude")
    broken = sealed_keys(keyed.database_url)

    message = keyed.fails("master-key", "rotate", "--json")

    assert "provider 'claude' cannot be re-sealed" in message
    assert kid in message
    assert read_key_file(keyed.key_file) == keys
    assert sealed_keys(keyed.database_url) == broken
    assert broken != sealed
