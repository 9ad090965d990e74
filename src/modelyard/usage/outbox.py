"""The usage outbox: a local file of rows the database could not take yet.

One JSON document per line; every append is fsync'd before it returns, so a row that reached
the outbox survives a crash. Lines are replayed in chunks and the file is emptied only after
all of them are committed (a crash in between replays them again, which the request-id
unique key makes harmless). A crash mid-append can leave a torn last line: the next append
starts on a fresh line, and a line that cannot be read back is moved to the ``.rejected``
file beside the outbox (same format: fix it and append it to the outbox to replay it).

A running recorder owns its outbox (an advisory lock where the OS has ``fcntl``): a second
one given the same path, say another worker process, takes ``<path>.1``, then ``.2``...
instead of truncating rows it never read. On taking a slot, a recorder also adopts the rows
left in slots nobody owns any more, so fewer workers after a restart still replay them all.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from modelyard.errors import Misconfigured

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per outbox is up to the user
    fcntl = None  # type: ignore[assignment]

MAX_SLOTS = 64


class Outbox:
    def __init__(self, path: Path) -> None:
        self.requested = path
        self._owner: int | None = None
        self._guard = threading.Lock()  # appends may run in a worker thread
        self._open(path)

    def _open(self, path: Path) -> None:
        self.path = path
        self.rejected_path = path.with_name(f"{path.name}.rejected")
        self._offset = 0  # bytes of the file already replayed (and committed)
        self._waiting = _count_lines(path)  # lines not replayed yet

    def __len__(self) -> int:
        return self._waiting

    def claim(self) -> None:
        """Own the outbox (or the next free slot) while running."""
        if self._owner is None:
            path, self._owner = _claim(self.requested)
            with self._guard:
                self._open(path)
            self._adopt()

    def _adopt(self) -> None:
        """Move in the rows of slots whose owner has gone."""
        for slot in range(MAX_SLOTS):
            other = _slot(self.requested, slot)
            if other == self.path or not other.exists() or not other.stat().st_size:
                continue
            orphan = os.open(other, os.O_RDWR)
            try:
                if fcntl is not None:
                    try:
                        fcntl.flock(orphan, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # alive: its owner replays it
                self.append([line for line in other.read_bytes().splitlines() if line.strip()])
                os.ftruncate(orphan, 0)
                os.fsync(orphan)
            finally:
                os.close(orphan)

    def release(self) -> None:
        """Let another process own this outbox; appends still work, for stragglers."""
        if self._owner is not None:
            os.close(self._owner)
            self._owner = None

    def append(self, lines: Sequence[bytes]) -> None:
        """Add lines durably: they are on disk when this returns."""
        if lines:
            with self._guard:
                _append(self.path, lines)
                self._waiting += len(lines)

    def reject(self, lines: Sequence[bytes]) -> None:
        if lines:
            _append(self.rejected_path, lines)

    def read(self, limit: int) -> tuple[list[bytes], int]:
        """Up to ``limit`` lines not replayed yet, and the offset just after them."""
        lines: list[bytes] = []
        if not self._waiting:
            return lines, self._offset
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            while len(lines) < limit:
                line = handle.readline()
                if not line:
                    break
                if line.strip():
                    lines.append(line.rstrip(b"\r\n"))
            return lines, handle.tell()

    def first(self) -> bytes | None:
        """The oldest line not replayed yet (one short read), or None. Not under the append
        lock, which is held through an fsync: a line being appended may read torn."""
        if not self._waiting:
            return None
        lines, _ = self.read(1)
        return lines[0] if lines else None

    def replayed(self, count: int, offset: int) -> None:
        """The ``count`` lines before ``offset`` are committed; empty the file once all are."""
        with self._guard:
            self._offset = offset
            self._waiting = max(self._waiting - count, 0)
            if offset >= self.path.stat().st_size:
                with self.path.open("r+b") as handle:
                    handle.truncate(0)
                    os.fsync(handle.fileno())
                self._offset = self._waiting = 0


def _claim(path: Path) -> tuple[Path, int | None]:
    """The first of ``path``, ``path.1``, ``path.2``... that no other process owns."""
    if fcntl is None:  # pragma: no cover
        return path, None
    try:  # by default in MODELYARD_HOME, which the first start may not have made yet
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Misconfigured(
            f"cannot make the usage outbox's directory {path.parent} ({exc.strerror}); "
            "set MODELYARD_USAGE_OUTBOX to a writable file path"
        ) from None
    for slot in range(MAX_SLOTS):
        candidate = _slot(path, slot)
        created = not candidate.exists()
        try:
            owner = os.open(candidate, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise Misconfigured(
                f"cannot open the usage outbox {candidate} ({exc.strerror}); "
                "set MODELYARD_USAGE_OUTBOX to a writable file path"
            ) from None
        if created:
            _sync_directory(candidate)
        try:
            fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(owner)
            continue
        return candidate, owner
    raise Misconfigured(
        f"all {MAX_SLOTS} usage outboxes {path}.* are in use by other processes; "
        "give each group of workers its own MODELYARD_USAGE_OUTBOX"
    )


def _slot(path: Path, slot: int) -> Path:
    return path.with_name(f"{path.name}.{slot}") if slot else path


def _append(path: Path, lines: Sequence[bytes]) -> None:
    created = not path.exists()
    with path.open("a+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        torn = False
        if size:
            handle.seek(size - 1)
            torn = handle.read(1) != b"\n"
        handle.write((b"\n" if torn else b"") + b"".join(line + b"\n" for line in lines))
        handle.flush()
        os.fsync(handle.fileno())
    if created:
        _sync_directory(path)


def _sync_directory(path: Path) -> None:
    """Make a new file's directory entry durable, not only its content."""
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())
