"""Request ids, minted on the hot path.

``uuid.uuid4()`` asks the kernel for 16 bytes on every call, and that system call lets go of
the GIL: with the usage writer's database thread busy, the request then waits to get the GIL
back. Request ids come from the same kernel source, read 4 KiB at a time (one system call
per 256 ids), so they are just as unguessable (a guessed id could claim another caller's
usage row); 1 us instead of 3. After a fork the child starts with a
fresh buffer, so parent and child never hand out the same bytes.
"""

from __future__ import annotations

import os
import threading

_BLOCK = 4096
_ID = 16


class _Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self._bytes = b""
        self._at = 0

    def take(self) -> bytes:
        with self._lock:
            if self._at + _ID > len(self._bytes):
                self._bytes, self._at = os.urandom(_BLOCK), 0
            start = self._at
            self._at = start + _ID
            return self._bytes[start : start + _ID]


_pool = _Pool()
os.register_at_fork(after_in_child=_pool.reset)


def request_id() -> str:
    """A request id: ``req_`` and 32 hex digits of pooled randomness."""
    return f"req_{_pool.take().hex()}"
