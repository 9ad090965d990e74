"""``modelyard db backup``: a consistent, private copy of a SQLite registry that writers do not
wait for and that never overwrites a file."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, sealed_keys

PROVIDER_KEY = "sk-backup-test-0123456789"


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    cli = Cli(
        f"sqlite+aiosqlite:///{tmp_path / 'home' / 'modelyard.db'}", tmp_path / "modelyard.key"
    )
    cli.ok("init")
    cli.ok(
        "providers", "add", "--name", "up", "--kind", "openai_compatible",
        "--base-url", "http://127.0.0.1:9/v1", "--api-key-stdin", input=f"{PROVIDER_KEY}\n",
    )  # fmt: skip
    return cli


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def test_backup_is_a_private_checked_copy_that_is_never_overwritten(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    target = shelf / "registry.db"
    home = tmp_path / "home"
    beside = sorted(p.name for p in home.iterdir())
    done = sqlite_cli.json("db", "backup", str(target))
    assert sorted(p.name for p in home.iterdir()) == beside  # no -wal, -shm of the caller's
    assert done["path"] == str(target)
    assert done["revision"] == sqlite_cli.json("db", "status")["revision"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in shelf.iterdir()) == ["registry.db"]  # no partial file, no -wal
    assert sealed_keys(_url(target)) == sealed_keys(sqlite_cli.database_url)

    before = target.read_bytes()
    assert "exists; not overwriting it" in sqlite_cli.fails("db", "backup", str(target))
    assert target.read_bytes() == before
    link = shelf / "link.db"
    link.symlink_to(tmp_path / "elsewhere.db")
    assert "exists; not overwriting it" in sqlite_cli.fails("db", "backup", str(link))
    assert not (tmp_path / "elsewhere.db").exists()


def test_backup_copies_what_is_committed_while_a_writer_holds_its_transaction(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    source = Path(sqlite_cli.database_url.removeprefix("sqlite+aiosqlite:///"))
    writer = sqlite3.connect(source, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")  # the commit below stays in -wal
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("CREATE TABLE committed_later (x)")
        sqlite_cli.ok("db", "backup", str(tmp_path / "during.db"))  # the writer is not waited for
        writer.execute("COMMIT")
        sqlite_cli.ok("db", "backup", str(tmp_path / "after.db"))
    finally:
        writer.close()

    def tables(path: Path) -> set[str]:
        with sqlite3.connect(path) as db:
            return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    assert "committed_later" not in tables(tmp_path / "during.db")
    assert "committed_later" in tables(tmp_path / "after.db")  # read from the WAL


@pytest.mark.parametrize(
    ("where", "expected"),
    [("nowhere/registry.db", "directory"), ("home/modelyard.db", "exists")],
    ids=["missing-directory", "the-database-itself"],
)
def test_bad_targets_write_nothing(
    sqlite_cli: Cli, tmp_path: Path, where: str, expected: str
) -> None:
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert expected in sqlite_cli.fails("db", "backup", str(tmp_path / where))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_postgresql_is_pointed_at_pg_dump(tmp_path: Path) -> None:
    cli = Cli("postgresql+asyncpg://postgres@127.0.0.1:9/none", tmp_path / "modelyard.key")
    message = cli.fails("db", "backup", str(tmp_path / "x.db"))
    assert "pg_dump" in message
    assert "MODELYARD_DATABASE_URL" in message
    assert not (tmp_path / "x.db").exists()


def test_a_file_that_is_no_database_is_refused_in_one_line(tmp_path: Path) -> None:
    """SQLite's own failures (not a database, locked past the timeout, a full disk) are one
    line naming the file, never a traceback, and leave nothing behind."""
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database, only text long enough to fill a header " * 4)
    cli = Cli(_url(garbage), tmp_path / "modelyard.key")
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    message = cli.fails("db", "backup", str(shelf / "copy.db"))
    assert "could not back up" in message
    assert "file is not a database" in message
    assert list(shelf.iterdir()) == []
