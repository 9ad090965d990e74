"""Credits on the hot path: reserve before a call, settle after, with no database round trip
for most calls, and a user's last credits spendable through whichever process gets the call.

Each gateway process keeps, per billed user, a *hold*: credits set aside for it in the
``credit_holds`` table. Reservations come out of the hold in memory; only when the hold runs
short does the process go to the database, in one short transaction under the user's lock,
to grow it to what the call needs plus headroom for ``HEADROOM_CALLS`` more such calls (doubled,
up to ``MAX_HEADROOM_CALLS``, while a busy user keeps running out within ``BUSY_S``), the
headroom (whole calls) never more than ``HEADROOM_SHARE`` (10%) of what is free beyond the
call's own need, so one replica never sits on much of a small balance; and never beyond what
the user has left minus every other process's hold. Calls that waited while another call
resized the hold decide on what it found: when that resize took all that was free, a call it
cannot cover is refused without another round trip. So:

* the balance never goes negative, on any number of replicas: the sum of all holds never
  exceeds the user's spendable credits, and a call is charged at most its reservation plus
  what is free in its process's hold (a call that used more than reserved is capped, and the
  usage row says so);
* a call may ask for less than its worst case when that is all there is (``least``: the
  gateway then caps its ``max_tokens``); one that cannot get even that gets 402
  INSUFFICIENT_CREDITS, naming what is available and what the call may cost;
* the actual charge is debited from the ledger with the call's usage row, in the same
  transaction, off the request path; holds are extended while in use and released when idle
  or at shutdown; a crashed process's hold lapses after its TTL (``ttl_s``).

**The scarce regime** (the last credits). A hold is *scarce* when its last resize found less
than ten of the call's worst cases free beyond it (the headroom share then grants no whole
call). A scarce hold is exact: it holds what calls in flight reserved plus charges not yet in
the ledger, and shrinks back to that in the background after each settle (a call cheaper
than its worst case) and each usage write (a charge now in the ledger): one short
transaction per event, coalesced per user. A process whose resize cannot cover a call while
others hold credits for the user asks them for their surplus at once
(:mod:`modelyard.billing.giveback`: PostgreSQL NOTIFY; Redis pub/sub for workers on SQLite),
waits up to ``ASK_WAIT_S`` for each to answer, resizes once more, and only then answers 402.
So with credits for exactly K calls exactly K are admitted, whichever replicas they reach.

Races, and why none overdraws: every hold change (a resize, a shrink, an idle release) is
written in a transaction under the user's lock, after reading the ledger and the other
holds; in memory a shrink lowers the hold before its row is written, so the row is never
smaller than what calls of this process may use. Two replicas asking at once each shrink to
their calls in flight (shrinking takes only the write lock, never the lock an asker waits
under), then resize in turn under the user's lock: the first takes what is free, the second
what is left. A replica that dies mid-call never answers: the asker waits ``ASK_WAIT_S``,
and the dead hold lapses after the TTL. A lost message (a dropped listening connection, a
lost Redis) costs a refused call, never credits. A process cut off from the database stops
spending its hold from memory once it was not renewed for half its TTL: its next call must
resize (503 while the database is unreachable), so it never spends a hold the others may
already see as lapsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.billing import hold_rows, ledger
from modelyard.billing.giveback import Answers, notify
from modelyard.billing.giveback_redis import messages_for
from modelyard.billing.hold_account import HEADROOM_CALLS, ZERO, Account, Reservation
from modelyard.billing.hold_shrink import Shrinker
from modelyard.db.types import canonical
from modelyard.errors import PaymentRequired
from modelyard.registry.tx import Database

log = logging.getLogger("modelyard.billing.holds")
MAX_HEADROOM_CALLS = 1024  # a busy user's hold doubles up to this while it keeps running out
HEADROOM_SHARE = Decimal("0.1")  # headroom: at most this share of what is free beyond the need
BUSY_S = 1.0  # running out again within this time counts as busy
HOLD_TTL_S = 120.0
IDLE_S = 30.0
RENEW_SHARE = 0.5  # a hold not renewed within this share of its TTL is not spent from memory
ASK_WAIT_S = 0.5  # how long a short process waits for the others to give credits back
FAILED = (SQLAlchemyError, OSError)


class CreditKeeper:
    def __init__(
        self,
        db: Database,
        holder: str | None = None,
        ttl_s: float = HOLD_TTL_S,
        *,
        redis_url: str | None = None,
        redis_prefix: str = "modelyard",
    ) -> None:
        self.db = db
        self.holder = holder or f"gw-{uuid.uuid4().hex[:16]}"
        self.ttl_s = ttl_s
        self._accounts: dict[uuid.UUID, Account] = {}
        self._task: asyncio.Task[None] | None = None
        self.giveback = messages_for(db, self.holder, self._asked, redis_url, redis_prefix)
        self.shrinker = Shrinker(db, self.holder, ttl_s, self.giveback)
        self.syncs = 0  # database round trips taken, for tests and metrics

    async def reserve(
        self, user_id: uuid.UUID, amount: Decimal, least: Decimal | None = None
    ) -> Reservation:
        """Set ``amount`` aside for one call, or as much as there is when that is at least
        ``least`` (the reservation says how much); else raise 402 INSUFFICIENT_CREDITS."""
        account = self._account(user_id)
        account.last_used = now = time.monotonic()
        if account.available < amount or now >= account.renew_by:
            seen = account.syncs
            async with account.lock:
                if account.available < amount or time.monotonic() >= account.renew_by:
                    if account.syncs == seen or not account.drained:
                        await self._cover(user_id, account, amount)
                    free = canonical(max(ZERO, account.available))
                    if free < amount:
                        if least is None or free < least or free <= 0:
                            raise PaymentRequired(
                                f"insufficient credits: {free} available, this call may cost "
                                f"up to {amount}; lower max_tokens or add credits",
                                details={
                                    "available": format(free, "f"),
                                    "estimate": format(amount, "f"),
                                },
                            )
                        amount = free
        account.reserved += amount
        return Reservation(user_id, amount)

    def settle(self, reservation: Reservation, actual: Decimal) -> Decimal:
        """Release the reservation and charge what the call used, capped at what the hold can
        cover (so the balance cannot go negative). Returns the charge."""
        account = self._accounts[reservation.user_id]
        account.reserved -= reservation.amount
        charge = max(ZERO, min(actual, account.available))
        account.spent += charge
        self.shrinker.later(reservation.user_id, account)
        return charge

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back without charging anything: the call's settlement failed
        (a bug, logged by the caller); the hold must not stay short by it."""
        account = self._accounts.get(reservation.user_id)
        if account is not None:
            account.reserved = max(ZERO, account.reserved - reservation.amount)
            self.shrinker.later(reservation.user_id, account)

    def outstanding(self) -> tuple[Decimal, Decimal]:
        """Credits reserved by calls in flight, and charged but not yet in the ledger, over
        every user (read-only: tests and diagnostics; both are zero when all is settled)."""
        accounts = self._accounts.values()
        return sum((a.reserved for a in accounts), ZERO), sum((a.spent for a in accounts), ZERO)

    def done(self, user_id: uuid.UUID | None, charged: Decimal | None, stored: bool) -> None:
        """A usage row left the recorder: its charge is in the ledger now (``stored``) or
        never will be (a duplicate or refused row)."""
        account = self._accounts.get(user_id) if user_id is not None else None
        if account is None or user_id is None or not charged:
            return
        account.spent -= charged
        if stored:
            account.written += charged
        self.shrinker.later(user_id, account)

    def _account(self, user_id: uuid.UUID) -> Account:
        account = self._accounts.get(user_id)
        if account is None:
            account = self._accounts[user_id] = Account()
        return account

    async def _cover(self, user_id: uuid.UUID, account: Account, need: Decimal) -> None:
        """Resize for ``need``; when that falls short while others hold credits for the
        user, ask them to give back what their calls do not need, and resize once more."""
        asked = await self._sync(user_id, account, need, ask=True)
        if asked is not None and self.giveback is not None:
            try:
                await asked.wait(ASK_WAIT_S)
            finally:
                self.giveback.forget(asked)
            await self._sync(user_id, account, need)

    async def _sync(
        self, user_id: uuid.UUID, account: Account, need: Decimal, *, ask: bool = False
    ) -> Answers | None:
        """Resize this process's hold: keep what calls in flight and unwritten charges need,
        add ``need`` and headroom, never more than is free. With ``ask``, a resize that cannot
        cover ``need`` asks the other holders for their surplus (returned: whom it waits for)."""
        self.syncs += 1
        now_s = time.monotonic()
        busy = now_s - account.last_sync < BUSY_S
        account.headroom = (
            min(account.headroom * 2, MAX_HEADROOM_CALLS)
            if busy
            else max(HEADROOM_CALLS, account.headroom // 2)
        )
        account.last_sync = now_s
        asked: Answers | None = None
        renewed = now_s + self.ttl_s * RENEW_SHARE
        async with account.writing:
            try:
                async with self._session() as session:
                    now = self.db.clock()
                    await ledger.lock_user(session, user_id)
                    spendable = await ledger.spendable(session, user_id, now)
                    others = await hold_rows.others(session, user_id, now, self.holder)
                    free = max(ZERO, spendable - sum(others.values(), ZERO))
                    keep, written = account.needed, account.written
                    beyond = max(ZERO, free - keep - need)  # free beyond the call's own need
                    share = int(beyond * HEADROOM_SHARE / need) if need else 0
                    calls = min(account.headroom, share)
                    hold = max(keep, min(free, keep + need * (1 + calls)))
                    expires = now + timedelta(seconds=self.ttl_s)
                    await hold_rows.write(
                        session, self.db.is_postgres, user_id, self.holder, hold, expires
                    )
                    if ask and others and hold - keep < need and self._listening():
                        assert self.giveback is not None
                        asked = self.giveback.expect(user_id, set(others))
                        if self.giveback.in_transaction:
                            await notify(session, "ask", user_id, self.holder)
            except BaseException:
                if asked is not None and self.giveback is not None:
                    self.giveback.forget(asked)
                raise
            # Charges that reached the ledger after it was read are still in the new hold.
            account.hold, account.written = hold, account.written - written
            account.renew_by = renewed
        if asked is not None and self.giveback is not None and not self.giveback.in_transaction:
            await self.giveback.send("ask", user_id)
        account.syncs += 1
        # "Took all that was free" lets waiting calls be refused in memory; not while others
        # may hold a surplus no one has asked them for yet.
        account.drained = hold >= free and not (ask and others and self._listening())
        account.scarce = beyond * HEADROOM_SHARE < need
        return asked

    def _asked(self, user_id: uuid.UUID) -> None:
        self.shrinker.asked(user_id, self._accounts.get(user_id))

    def _session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """The short write transaction of a resize (a seam: tests make it fail)."""
        return hold_rows.transaction(self.db)

    def _listening(self) -> bool:
        return self.giveback is not None and self.giveback.listening

    async def start(self) -> None:
        self._task = asyncio.create_task(self._heartbeat(), name="modelyard-credit-holds")
        if self.giveback is not None:
            await self.giveback.start()

    async def stop(self) -> None:
        """Stop the heartbeat and give every hold back (call after usage was flushed)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.giveback is not None:
            await self.giveback.stop()
        await self.shrinker.quiet()
        if self._accounts:
            try:
                async with self._session() as session:
                    await hold_rows.release_all(session, self.holder)
            except FAILED as exc:
                log.warning("credit holds not released (%s); they lapse", type(exc).__name__)
            self._accounts.clear()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 6)
            try:
                await self.tick()
            except FAILED as exc:
                log.warning("credit holds not refreshed (%s)", type(exc).__name__)

    async def tick(self) -> None:
        """Release idle accounts' holds and keep the others from lapsing."""
        now = time.monotonic()
        for user_id, account in list(self._accounts.items()):
            if account.hold and now - account.last_used > IDLE_S and not account.lock.locked():
                async with account.lock, account.writing:
                    if account.reserved or account.spent:
                        continue
                    # Zero first: a call arriving meanwhile waits for the lock and re-syncs.
                    account.hold = account.written = ZERO
                    await self.shrinker.write(user_id, ZERO, answer=False)
        if any(a.hold for a in self._accounts.values()):
            renewed = time.monotonic() + self.ttl_s * RENEW_SHARE
            async with self._session() as session:
                expires = self.db.clock() + timedelta(seconds=self.ttl_s)
                await hold_rows.extend(session, self.holder, expires)
            for account in self._accounts.values():
                account.renew_by = max(account.renew_by, renewed)
