"""An online, consistent copy of a SQLite registry, taken while servers keep writing.

Copying the database file with ``cp`` while a server runs can catch a write half-way, and in
WAL mode misses whatever is still in ``-wal``. SQLite's backup API copies the pages under one
read transaction, so the copy is the database as of one commit, WAL included; writers carry
on meanwhile (WAL lets one writer and readers share the file).

The copy is made in a temporary file beside the target (mode 0600 from its creation: it holds
sealed provider keys, hashed API keys and the audit trail), checked with ``PRAGMA
quick_check``, and linked into place only then: the target never exists half-written, and an
existing file is never overwritten, even one that appears while the copy runs. PostgreSQL is
backed up with its own tools (pg_dump), see docs/deployment.md.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from modelyard.errors import Conflict, Misconfigured, ValidationFailed

MODE = 0o600


@dataclass(frozen=True)
class Backup:
    path: Path
    size_bytes: int
    revision: str | None


def _refuse(source: Path, target: Path) -> None:
    if not source.is_file():
        raise Misconfigured(f"no database at {source} to back up")
    if target.exists() or target.is_symlink():
        raise Conflict(f"{target} exists; not overwriting it (choose a new file name)")
    if not target.parent.is_dir():
        raise ValidationFailed.at("path", f"directory {target.parent} does not exist")


def _copy(source: Path, into: Path) -> str | None:
    """Copy ``source`` page by page into the (empty, 0600) file ``into``; its revision."""
    # mode=rw: never creates the file; and, unlike a read-only connection, the last one to
    # close removes the -wal and -shm it made (they would be the caller's, say root's, and
    # lock the server's user out). A URI, so no character of the path is read as a parameter.
    src = sqlite3.connect(f"{source.absolute().as_uri()}?mode=rw", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(into)
        try:
            src.backup(dst)  # all pages in one step: one read transaction, one commit's state
            # one self-contained file: no -wal beside the copy to forget
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise Misconfigured(f"the copy of {source} failed its check: {check}")
            return _revision(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _revision(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # not a modelyard registry (yet)
        return None
    return None if row is None else str(row[0])


def backup_sqlite(source: Path, target: Path) -> Backup:
    """A consistent copy of the SQLite database ``source`` at the new file ``target``."""
    target = target.expanduser().absolute()
    _refuse(source, target)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE))
    try:
        try:
            revision = _copy(source, partial)
        except sqlite3.Error as exc:  # not a database, locked past the timeout, disk full...
            raise Misconfigured(f"could not back up {source}: {exc}") from None
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        try:
            os.link(partial, target)  # fails if the target appeared meanwhile: no overwrite
        except FileExistsError:
            raise Conflict(
                f"{target} exists; not overwriting it (choose a new file name)"
            ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return Backup(target, target.stat().st_size, revision)
