"""Asking the other gateway processes to give a user's unused credits back, at once.

Near the end of a balance, the credits a process cannot reserve may sit unused in another
process's hold (headroom it took while the balance was larger, or charges already in the
ledger that its hold still counts until it is next written). Waiting for that process to
go idle (``holds.IDLE_S``) would answer 402 while the user still has credit, so the
process that comes up short asks instead, on PostgreSQL's ``NOTIFY`` channel
:data:`CHANNEL`:

    ask <user id> <asking holder>     sent in the transaction that found the shortfall
    gave <user id> <giving holder>    sent in the transaction that shrank the giver's hold

Both ride on a transaction the process runs anyway, so asking costs no extra round trip and
is delivered only if that transaction commits. The asker knows from the ``credit_holds``
rows it just read whom it waits for, and waits until each has answered or
``holds.ASK_WAIT_S`` passed (a crashed holder never answers: its hold lapses with its TTL).

Messages are hints, never money: the hold rows in the database, written under the user's
lock, stay the only truth. A lost message (the listening connection dropped, a process
that is not listening) costs a refused call, never an overdraft. SQLite has no NOTIFY: a
single SQLite server keeps one process's holds, and its idle release still applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("modelyard.billing.holds")
CHANNEL = "modelyard_credits"
APPLICATION = "modelyard-credits"  # the listening connection's application_name
RECONNECT_S = 1.0
FIRST_CONNECT_S = 10.0  # start() waits this long at most for the listener to be up


async def notify(session: AsyncSession, kind: str, user_id: uuid.UUID, holder: str) -> None:
    """Queue ``kind`` (``ask`` or ``gave``) for delivery when ``session``'s transaction
    commits (PostgreSQL only)."""
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": CHANNEL, "payload": f"{kind} {user_id} {holder}"},
    )


class Answers:
    """The holders one ask waits for; done when each has said ``gave``."""

    def __init__(self, user_id: uuid.UUID, holders: set[str]) -> None:
        self.user_id = user_id
        self.pending = set(holders)
        self.done = asyncio.Event()
        if not self.pending:
            self.done.set()

    def answered(self, holder: str) -> None:
        self.pending.discard(holder)
        if not self.pending:
            self.done.set()

    async def wait(self, timeout_s: float) -> bool:
        """True when every holder answered within ``timeout_s``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.done.wait(), timeout_s)
        return self.done.is_set()


class GiveBack:
    """One LISTEN connection per process: hears asks (handed to ``on_ask``) and answers
    (matched to this process's waiting :class:`Answers`). Messages are sent with
    :func:`notify` inside the transaction that motivates them (``in_transaction``)."""

    in_transaction = True

    def __init__(self, url: str, holder: str, on_ask: Callable[[uuid.UUID], None]) -> None:
        self.url = url
        self.holder = holder
        self.on_ask = on_ask
        self.listening = False
        self._waiting: dict[uuid.UUID, list[Answers]] = {}
        self._task: asyncio.Task[None] | None = None
        self._tried = asyncio.Event()  # the first connection attempt ended, either way
        self._said = False  # the listener's being away was logged (once an outage)

    def expect(self, user_id: uuid.UUID, holders: set[str]) -> Answers:
        """Register before the ask commits: an answer may arrive before the commit returns."""
        answers = Answers(user_id, holders)
        self._waiting.setdefault(user_id, []).append(answers)
        return answers

    def forget(self, answers: Answers) -> None:
        waiting = self._waiting.get(answers.user_id, [])
        if answers in waiting:
            waiting.remove(answers)
        if not waiting:
            self._waiting.pop(answers.user_id, None)

    def heard(self, payload: str) -> None:
        """One message of the channel (malformed ones, say from another version, ignored)."""
        parts = payload.split(" ")
        if len(parts) != 3 or parts[2] == self.holder:
            return
        kind, user, holder = parts
        try:
            user_id = uuid.UUID(user)
        except ValueError:
            return
        if kind == "ask":
            self.on_ask(user_id)
        elif kind == "gave":
            for answers in list(self._waiting.get(user_id, ())):
                answers.answered(holder)

    async def send(self, kind: str, user_id: uuid.UUID) -> None:
        """Send a message after the transaction committed (transports without
        ``in_transaction``; NOTIFY rides on the transaction instead)."""

    async def start(self) -> None:
        """Start listening; return once the first attempt to connect ended (so a server that
        answers ready can already hear asks), or after ``FIRST_CONNECT_S``."""
        self._task = asyncio.create_task(self._listen(), name="modelyard-credit-giveback")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tried.wait(), FIRST_CONNECT_S)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        """Hold one LISTEN connection; reconnect after ``RECONNECT_S`` whenever it drops."""
        while True:
            conn: Any = None
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(
                    self.url, timeout=10, server_settings={"application_name": APPLICATION}
                )
                conn.add_termination_listener(lambda _c, done=lost: done.set())
                await conn.add_listener(CHANNEL, lambda *args: self.heard(str(args[-1])))
                self.listening = True
                self._said = False
                self._tried.set()
                await lost.wait()
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                # Said once an outage (near the end of a balance, short replicas then
                # answer 402 until it is back), then quietly retried.
                said = log.warning if not self._said else log.debug
                self._said = True
                said("credit give-back listener unavailable: %s", type(exc).__name__)
            finally:
                self.listening = False
                self._tried.set()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))
            await asyncio.sleep(RECONNECT_S)
