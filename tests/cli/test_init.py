"""`modelyard init`: key file 0600, schema at head, one admin key printed exactly once."""

from __future__ import annotations

import asyncio
import re
import stat
from pathlib import Path

from modelyard.services import Registry
from modelyard.settings import Settings
from tests.cli.conftest import ADMIN_EMAIL, Cli

TOKEN = re.compile(r"myk_[A-Za-z0-9_-]{20,}")


def _authenticates(cli: Cli, token: str) -> str:
    async def _check() -> str:
        settings = Settings(database_url=cli.database_url, master_key_file=cli.key_file)
        registry = Registry.open(settings)
        try:
            return (await registry.keys.authenticate(token)).label
        finally:
            await registry.close()

    return asyncio.run(_check())


def test_init_prints_the_admin_key_once_and_creates_a_private_key_file(cli: Cli) -> None:
    first = cli.ok("init")
    tokens = TOKEN.findall(first.output)
    assert len(tokens) == 1
    assert _authenticates(cli, tokens[0]) == f"user:{ADMIN_EMAIL}"
    assert stat.S_IMODE(cli.key_file.stat().st_mode) == 0o600
    assert "Created master key file" in first.stdout

    second = cli.ok("init")
    assert TOKEN.search(second.output) is None
    assert "already exists" in second.stdout


def test_init_json_reports_what_it_created(cli: Cli) -> None:
    first = cli.json("init")
    assert first["created_key_file"] is True
    assert first["admin_email"] == ADMIN_EMAIL
    assert TOKEN.fullmatch(first["admin_key"])
    again = cli.json("init")
    assert again == first | {"created_key_file": False, "admin_email": None, "admin_key": None}


def test_init_with_master_key_in_the_environment_writes_no_key_file(cli: Cli) -> None:
    key = cli.ok("master-key", "generate").stdout.strip()
    result = cli.json("init", env={"MODELYARD_MASTER_KEY": key})
    assert result["created_key_file"] is False
    assert result["master_key_source"] == "MODELYARD_MASTER_KEY"
    assert not cli.key_file.exists()


def test_init_migrates_an_empty_database(tmp_path: Path) -> None:
    cli = Cli(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", tmp_path / "k")
    assert "run `modelyard init`" in cli.fails("providers", "list")
    cli.ok("init")
    assert cli.json("providers", "list")["total"] == 0
