"""`modelyard master-key`: rotation re-seals every provider key; retire drops old keys."""

from __future__ import annotations

import pytest

from modelyard.errors import SecretUnreadable
from modelyard.registry.secrets import Keyring, read_key_file
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
