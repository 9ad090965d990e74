"""The scarce regime's half of :class:`modelyard.billing.holds.CreditKeeper`: shrinking a
hold back to what its calls need, off the request path, and answering other processes that
asked for a user's credits (see the ``holds`` module docstring for why and the races)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from modelyard.billing import hold_rows, ledger
from modelyard.billing.giveback import GiveBack, notify
from modelyard.billing.hold_account import ZERO, Account
from modelyard.registry.tx import Database

log = logging.getLogger("modelyard.billing.holds")
FAILED = (SQLAlchemyError, OSError)


class Shrinker:
    def __init__(self, db: Database, holder: str, ttl_s: float, messages: GiveBack | None) -> None:
        self.db = db
        self.messages = messages
        self.holder = holder
        self.ttl_s = ttl_s
        self._background: set[asyncio.Task[None]] = set()
        self.writes = 0  # hold rows written by shrinks and answers, for tests and benchmarks

    def later(self, user_id: uuid.UUID, account: Account) -> None:
        """A scarce hold gives back what its calls no longer need, off the request path."""
        if not account.scarce or account.hold <= account.needed:
            return
        if account.shrink is not None and not account.shrink.done():
            account.again = True
            return
        account.shrink = self._spawn(self._shrinking(user_id, account))

    def asked(self, user_id: uuid.UUID, account: Account | None) -> None:
        """Another process is short of this user's credits: shrink to the calls in flight
        and answer, whether or not anything was left to give (the asker waits for every
        holder it saw). A process that never held credits for the user has no row, so no
        one waits for it: it stays silent."""
        if account is None:
            return
        account.scarce = True
        self._spawn(self.give(user_id, account, answer=True))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _shrinking(self, user_id: uuid.UUID, account: Account) -> None:
        account.again = True
        while account.again:
            account.again = False
            await self.give(user_id, account, answer=False)

    async def give(self, user_id: uuid.UUID, account: Account, *, answer: bool) -> None:
        """Shrink the hold to what calls in flight and unwritten charges need."""
        async with account.writing:
            keep = account.needed
            if keep >= account.hold and not answer:
                return
            shrunk = keep < account.hold
            # Lower it in memory first: calls arriving meanwhile resize rather than use what
            # goes; the row, until written, is larger (safe). Charges that reach the ledger
            # from now on are in the new row, so they count as written again.
            account.hold, account.written = min(keep, account.hold), ZERO
            await self.write(user_id, account.hold if shrunk else None, answer)

    async def write(self, user_id: uuid.UUID, amount: Decimal | None, answer: bool) -> None:
        """Write this process's hold for the user (``None``: leave it) and maybe answer."""
        self.writes += 1
        try:
            async with hold_rows.transaction(self.db) as session:
                await ledger.lock_user(session, user_id)
                if amount is not None:
                    expires = self.db.clock() + timedelta(seconds=self.ttl_s)
                    await hold_rows.write(
                        session, self.db.is_postgres, user_id, self.holder, amount, expires
                    )
                if answer and self.messages is not None and self.messages.in_transaction:
                    await notify(session, "gave", user_id, self.holder)
        except FAILED as exc:
            log.warning("credit hold not given back (%s); it lapses", type(exc).__name__)
            return
        if answer and self.messages is not None and not self.messages.in_transaction:
            await self.messages.send("gave", user_id)

    async def quiet(self) -> None:
        """Wait until every hold being shrunk is written (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
