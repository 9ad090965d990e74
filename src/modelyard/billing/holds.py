"""Credits on the hot path: reserve before a call, settle after, with no database round trip
for most calls.

Each gateway process keeps, per billed user, a *hold*: credits set aside for it in the
``credit_holds`` table. Reservations come out of the hold in memory; only when the hold runs
short does the process go to the database, in one short transaction under the user's lock,
to grow it to what the call needs plus headroom for ``HEADROOM_CALLS`` more such calls (doubled,
up to ``MAX_HEADROOM_CALLS``, while a busy user keeps running out within ``BUSY_S``), the
headroom (whole calls) never more than ``HEADROOM_SHARE`` (10%) of what is free beyond the
call's own need,
so one replica never sits on much of a small balance; and never beyond what the user has left
minus every other process's hold. Calls that waited while another call resized the hold
decide on what it found: when that resize took all that was free, a call it cannot cover is
refused without another round trip. So:

* the balance never goes negative, on any number of replicas: the sum of all holds never
  exceeds the user's spendable credits, and a call is charged at most its reservation plus
  what is free in its process's hold (a call that used more than reserved is capped, and the
  usage row says so);
* a call may ask for less than its worst case when that is all there is (``least``: the
  gateway then caps its ``max_tokens``); one that cannot get even that gets 402
  INSUFFICIENT_CREDITS, naming what is available and what the call may cost;
* the actual charge is debited from the ledger with the call's usage row, in the same
  transaction, off the request path; holds are extended while in use and released when idle
  or at shutdown; a crashed process's hold lapses after ``HOLD_TTL_S``.

The price of spreading a balance over processes: near its end, a call on one replica may be
refused while another replica still holds some of the user's credits, until it releases them
(idle for ``IDLE_S``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.billing import ledger
from modelyard.db.tables import CreditHold
from modelyard.db.types import canonical
from modelyard.errors import PaymentRequired
from modelyard.registry.tx import Database

log = logging.getLogger("modelyard.billing.holds")
ZERO = Decimal(0)
HEADROOM_CALLS = 16  # a new hold covers this many more calls like the one asking
MAX_HEADROOM_CALLS = 1024  # a busy user's hold doubles up to this while it keeps running out
HEADROOM_SHARE = Decimal("0.1")  # headroom: at most this share of what is free beyond the need
BUSY_S = 1.0  # running out again within this time counts as busy
HOLD_TTL_S = 120.0
HEARTBEAT_S = 20.0
IDLE_S = 30.0


@dataclass
class _Account:
    hold: Decimal = ZERO  # the amount of this process's hold row, as last written
    reserved: Decimal = ZERO  # calls in flight
    spent: Decimal = ZERO  # charged, not yet in the ledger
    written: Decimal = ZERO  # charged and in the ledger since the hold was last written
    last_used: float = 0.0
    last_sync: float = 0.0
    headroom: int = HEADROOM_CALLS
    syncs: int = 0  # resizes of this account's hold
    drained: bool = False  # the last resize took all that was free into this hold
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def available(self) -> Decimal:
        return self.hold - self.reserved - self.spent - self.written


@dataclass(frozen=True, slots=True)
class Reservation:
    user_id: uuid.UUID
    amount: Decimal


class CreditKeeper:
    def __init__(self, db: Database, holder: str | None = None) -> None:
        self.db = db
        self.holder = holder or f"gw-{uuid.uuid4().hex[:16]}"
        self._accounts: dict[uuid.UUID, _Account] = {}
        self._task: asyncio.Task[None] | None = None
        self.syncs = 0  # database round trips taken, for tests and metrics

    async def reserve(
        self, user_id: uuid.UUID, amount: Decimal, least: Decimal | None = None
    ) -> Reservation:
        """Set ``amount`` aside for one call, or as much as there is when that is at least
        ``least`` (the reservation says how much); else raise 402 INSUFFICIENT_CREDITS."""
        account = self._accounts.get(user_id)
        if account is None:
            account = self._accounts[user_id] = _Account()
        account.last_used = time.monotonic()
        if account.available < amount:
            seen = account.syncs
            async with account.lock:
                if account.available < amount:
                    if account.syncs == seen or not account.drained:
                        await self._sync(user_id, account, amount)
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
        return charge

    def done(self, user_id: uuid.UUID | None, charged: Decimal | None, stored: bool) -> None:
        """A usage row left the recorder: its charge is in the ledger now (``stored``) or
        never will be (a duplicate or refused row)."""
        account = self._accounts.get(user_id) if user_id is not None else None
        if account is None or not charged:
            return
        account.spent -= charged
        if stored:
            account.written += charged

    async def _sync(self, user_id: uuid.UUID, account: _Account, need: Decimal) -> Decimal:
        """Resize this process's hold: keep what calls in flight and unwritten charges need,
        add ``need`` and headroom, never more than is free. Returns what was free."""
        self.syncs += 1
        now_s = time.monotonic()
        busy = now_s - account.last_sync < BUSY_S
        account.headroom = (
            min(account.headroom * 2, MAX_HEADROOM_CALLS)
            if busy
            else max(HEADROOM_CALLS, account.headroom // 2)
        )
        account.last_sync = now_s
        async with self._session() as session:
            now = self.db.clock()
            await ledger.lock_user(session, user_id)
            spendable = await ledger.spendable(session, user_id, now)
            others = await ledger.held(session, user_id, now, besides=self.holder)
            free = max(ZERO, spendable - others)
            keep = account.reserved + account.spent
            wanted = keep
            if need:
                beyond = max(ZERO, free - keep - need)  # free beyond the call's own need
                calls = min(account.headroom, int(beyond * HEADROOM_SHARE / need))
                wanted = keep + need * (1 + calls)
            hold = max(keep, min(free, wanted))
            await self._write_hold(session, user_id, hold, now + timedelta(seconds=HOLD_TTL_S))
        account.hold, account.written = hold, ZERO
        account.syncs += 1
        account.drained = hold >= free
        return max(ZERO, free - keep)

    async def _write_hold(
        self, session: AsyncSession, user_id: uuid.UUID, amount: Decimal, expires: object
    ) -> None:
        if amount <= 0:
            await session.execute(
                delete(CreditHold).where(
                    CreditHold.user_id == user_id, CreditHold.holder == self.holder
                )
            )
            return
        dialect = postgresql if self.db.is_postgres else sqlite
        values = {
            "user_id": user_id,
            "holder": self.holder,
            "amount": amount,
            "expires_at": expires,
        }
        statement = dialect.insert(CreditHold).values(**values)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "holder"],
                set_={"amount": amount, "expires_at": expires},
            )
        )

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        async with self.db.engine.connect() as plain:
            conn = await plain.execution_options(modelyard_write=True)
            async with AsyncSession(bind=conn, expire_on_commit=False) as session, session.begin():
                yield session

    async def start(self) -> None:
        self._task = asyncio.create_task(self._heartbeat(), name="modelyard-credit-holds")

    async def stop(self) -> None:
        """Stop the heartbeat and give every hold back (call after usage was flushed)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._accounts:
            try:
                async with self._session() as session:
                    await session.execute(
                        delete(CreditHold).where(CreditHold.holder == self.holder)
                    )
            except (SQLAlchemyError, OSError) as exc:
                log.warning("credit holds not released (%s); they lapse", type(exc).__name__)
            self._accounts.clear()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self.tick()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("credit holds not refreshed (%s)", type(exc).__name__)

    async def tick(self) -> None:
        """Release idle accounts' holds and keep the others from lapsing."""
        now = time.monotonic()
        for user_id, account in list(self._accounts.items()):
            if account.hold and now - account.last_used > IDLE_S and not account.lock.locked():
                async with account.lock:
                    if account.reserved or account.spent:
                        continue
                    # Zero first: a call arriving meanwhile waits for the lock and re-syncs.
                    account.hold = account.written = ZERO
                    async with self._session() as session:
                        await self._write_hold(session, user_id, ZERO, None)
        if any(a.hold for a in self._accounts.values()):
            async with self._session() as session:
                expires = self.db.clock() + timedelta(seconds=HOLD_TTL_S)
                await session.execute(
                    update(CreditHold)
                    .where(CreditHold.holder == self.holder)
                    .values(expires_at=expires)
                )
