"""Authlib's server runs synchronously; modelyard's database is async. An Authlib call runs in
a worker thread (:func:`in_thread`), and each storage hook it makes (find a client, save a
code, save a token) runs back on the event loop (:func:`wait`), so every query still goes
through the registry's async engine and transactions."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import anyio.from_thread
import anyio.to_thread

T = TypeVar("T")
P = ParamSpec("P")


async def in_thread(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run Authlib's synchronous ``call`` in a worker thread; its hooks may :func:`wait`."""
    return await anyio.to_thread.run_sync(lambda: call(*args, **kwargs))


def wait(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """From a hook running in :func:`in_thread`'s thread: run ``work()`` on the event loop
    and return its result (or raise its error)."""
    return anyio.from_thread.run(work)
