"""One process's view of one user's credit hold (:mod:`modelyard.billing.holds`): what the
row says, what calls in flight reserved and what they charged, in memory; and one call's
reservation out of it."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)
HEADROOM_CALLS = 16  # a new hold covers this many more calls like the one asking


@dataclass
class Account:
    hold: Decimal = ZERO  # the amount of this process's hold row, as last written
    reserved: Decimal = ZERO  # calls in flight
    spent: Decimal = ZERO  # charged, not yet in the ledger
    written: Decimal = ZERO  # charged and in the ledger since the hold was last written
    last_used: float = 0.0
    last_sync: float = 0.0
    renew_by: float = 0.0  # monotonic: spend from memory until then, then resize first
    headroom: int = HEADROOM_CALLS
    syncs: int = 0  # resizes of this account's hold
    drained: bool = False  # the last resize took all that was free into this hold
    scarce: bool = False  # near the end of the balance: the hold is kept exact
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # calls that must resize
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)  # one hold write at a time
    shrink: asyncio.Task[None] | None = None  # the running shrink, if any
    again: bool = False  # shrink once more when the running shrink ends

    @property
    def available(self) -> Decimal:
        return self.hold - self.reserved - self.spent - self.written

    @property
    def needed(self) -> Decimal:
        return self.reserved + self.spent


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one call set aside: settled or released exactly once."""

    user_id: uuid.UUID
    amount: Decimal
