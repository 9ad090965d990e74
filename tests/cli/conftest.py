"""The CLI under test: ``modelyard`` invoked in process through Typer's CliRunner, against the
per-test database of ``database_url`` and a key file in ``tmp_path``.

CLI tests are plain sync functions: every command runs its own event loop with asyncio.run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text, update
from typer.testing import CliRunner, Result

from modelyard.cli import app
from modelyard.db.engine import create_engine
from modelyard.db.tables import AuditEvent, Provider

ADMIN_EMAIL = "admin@example.com"


@dataclass
class Cli:
    """Runs ``modelyard ARGS`` and checks what every run must hold: no traceback, no crash."""

    database_url: str
    key_file: Path
    env: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {
            "MODELYARD_DATABASE_URL": self.database_url,
            "MODELYARD_MASTER_KEY_FILE": str(self.key_file),
            # commands that run the gateway (chat) keep their usage outbox beside the key file,
            # not in the working directory
            "MODELYARD_USAGE_OUTBOX": str(self.key_file.parent / "usage.outbox"),
            "MODELYARD_MASTER_KEY": None,
            "MODELYARD_PROVIDER_API_KEY": None,
            "MODELYARD_ADMIN_EMAIL": ADMIN_EMAIL,
            "COLUMNS": "200",
        } | self.env

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None
    ) -> Result:
        result = CliRunner().invoke(app, list(args), input=input, env=self.env | (env or {}))
        assert "Traceback" not in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            repr(result.exception),
            result.output,
        )
        return result

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self(*args, **kwargs)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, **kwargs: Any) -> Any:
        return orjson.loads(self.ok(*args, "--json", **kwargs).stdout)

    def fails(self, *args: str, **kwargs: Any) -> str:
        """Run a command that must fail; return its one-line error message."""
        result = self(*args, **kwargs)
        assert result.exit_code == 1, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: "), result.stderr
        return lines[0]


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    """The CLI on a fresh, migrated database; nothing bootstrapped yet."""
    return Cli(database_url, tmp_path / "modelyard.key")


@pytest.fixture
def ready(cli: Cli) -> Cli:
    """The CLI after `modelyard init`: key file, schema and admin user exist."""
    cli.ok("init")
    return cli


def sealed_keys(database_url: str) -> dict[str, str]:
    """Every provider's sealed API key as stored, by provider id."""

    async def _read() -> dict[str, str]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    select(Provider.id, Provider.api_key_sealed).where(
                        Provider.api_key_sealed.is_not(None)
                    )
                )
                return {str(pid): str(sealed) for pid, sealed in rows}
        finally:
            await engine.dispose()

    return asyncio.run(_read())


def tamper(database_url: str, event_id: int) -> None:
    """Rewrite one audit event's `after` behind the registry's back."""

    async def _tamper() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as conn:
                if engine.dialect.name == "postgresql":  # past the append-only trigger
                    await conn.execute(text("SET LOCAL session_replication_role = replica"))
                await conn.execute(
                    update(AuditEvent)
                    .where(AuditEvent.id == event_id)
                    .values(after={"name": "forged"})
                )
        finally:
            await engine.dispose()

    asyncio.run(_tamper())
