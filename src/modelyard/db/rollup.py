"""Keeping ``usage_daily`` equal to what ``usage_events`` holds, day by day.

Every place that stores or removes calls adds the same change to the roll-ups in its own
transaction: the usage writer adds the rows it newly stored (:func:`add`), purging a user
folds their roll-ups into the no-user ones (:func:`fold_user`), and migration 0009 fills the
table from the calls already stored (:func:`backfill`, also used by the console benchmark).

Rows are first summed here in Python per key (day, user, model, provider, currency), then
added with one ``INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x`` per key, in key
order (two writers on PostgreSQL lock the same rows in the same order: no deadlock). Both
engines add in SQL, exactly: counts are integers, and each amount is split into integer
parts (:func:`split`): SQLite would add decimal text as floats, and integers alone in units
of 10^-10 could overflow a 64-bit integer at 922 million currency units.

No overflow: an amount fits ``NUMERIC(20, 10)``, so its floor is below 10^10 and its
fraction below 10^10 units; a roll-up row's fraction is carried into its whole part on every
addition (it stays below 10^10), so a sum overflows only past 9.2 * 10^18 currency units, and
a query summing fractions over N roll-up rows stays below N * 10^10 (exact for N < 9 * 10^8).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Connection, Table, delete, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from modelyard.db.tables import UsageDaily, UsageEvent
from modelyard.db.types import canonical

NO_USER = uuid.UUID(int=0)  # the key of calls without a user (none, or since purged)
NO_NAME = ""  # the key of calls without a model, provider or currency
SCALE = 10**10  # Money's ten decimal places
PLACES = Decimal(1).scaleb(-10)
KEY = ("day", "user_id", "model_name", "provider_name", "currency")
COUNTS = (
    "calls",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "latency_ms_total",
    "credited_calls",
)
AMOUNTS = ("cost", "credits")
CHUNK = 500  # keys per statement
BACKFILL_BATCH = 50_000  # calls read per step when filling the table
Key = tuple[date, uuid.UUID, str, str, str]
Row = Mapping[str, Any]


def table() -> Table:
    t = UsageDaily.__table__
    assert isinstance(t, Table)
    return t


def split(amount: Decimal) -> tuple[int, int]:
    """An amount as (floor, fraction in units of 10^-10); at most ten places, as stored."""
    exact = amount.quantize(PLACES, rounding=ROUND_HALF_EVEN)
    whole = int(exact.to_integral_value(rounding="ROUND_FLOOR"))
    return whole, int((exact - whole).scaleb(10))


def join(whole: Any, frac: Any) -> Decimal:
    """The amount two summed parts make (the database may answer them as Decimal)."""
    return canonical(Decimal(int(whole)) + Decimal(int(frac)).scaleb(-10))


def key_of(row: Row) -> Key:
    return (
        row["occurred_at"].astimezone(UTC).date(),
        row["user_id"] or NO_USER,
        row["model_name"] or NO_NAME,
        row["provider_name"] or NO_NAME,
        row["currency"] or NO_NAME,
    )


def deltas(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """What ``rows`` (calls, as stored) add to each roll-up row, in key order."""
    sums: dict[Key, list[int]] = {}
    for row in rows:
        s = sums.get(key := key_of(row))
        if s is None:
            s = sums[key] = [0] * 11
        s[0] += 1
        s[1] += row["status"] != "ok"
        s[2] += row["prompt_tokens"] or 0
        s[3] += row["completion_tokens"] or 0
        s[4] += row["cached_tokens"] or 0
        s[5] += row["latency_ms"] or 0
        if (cost := row["cost"]) is not None:
            whole, frac = split(cost)
            s[7] += whole
            s[8] += frac
        if (credits := row["credits"]) is not None:
            s[6] += 1
            whole, frac = split(credits)
            s[9] += whole
            s[10] += frac
    return [_delta(key, sums[key]) for key in sorted(sums, key=_order)]


def _order(key: Key) -> tuple[Any, ...]:
    return (key[0], str(key[1]), *key[2:])


def _delta(key: Key, s: list[int]) -> dict[str, Any]:
    out = dict(zip(KEY, key, strict=True))
    out.update(zip(COUNTS[:6], s[:6], strict=True))
    out["credited_calls"] = s[6]
    for name, whole, frac in (("cost", s[7], s[8]), ("credits", s[9], s[10])):
        out[f"{name}_whole"] = whole + frac // SCALE
        out[f"{name}_frac"] = frac % SCALE
    return out


def upsert(dialect: Dialect) -> Insert:
    """Add a delta to its roll-up row (made if missing), carrying fractions over."""
    t = table()
    ins = (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(t)
    new = ins.excluded
    scale: Any = literal_column(str(SCALE))
    changes: dict[str, Any] = {name: t.c[name] + new[name] for name in COUNTS}
    for name in AMOUNTS:
        whole, frac = f"{name}_whole", f"{name}_frac"
        total = t.c[frac] + new[frac]
        changes[frac] = total % scale
        changes[whole] = t.c[whole] + new[whole] + total // scale
    return ins.on_conflict_do_update(index_elements=list(KEY), set_=changes)


async def add(conn: AsyncConnection, rows: Sequence[Row]) -> None:
    """Add the calls ``rows`` (as newly stored) to the roll-ups, in the caller's transaction."""
    values = deltas(rows)
    statement = upsert(conn.dialect)
    for start in range(0, len(values), CHUNK):
        await conn.execute(statement, values[start : start + CHUNK])


async def fold_user(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    """The user's roll-ups join the no-user ones: what their calls become when the user is
    purged (``ON DELETE SET NULL``). Call it after deleting the user, in that transaction
    (on PostgreSQL the deleted row then holds back any writer still adding their calls)."""
    t = table()
    rows = [dict(r._mapping) for r in await conn.execute(select(t).where(t.c.user_id == user_id))]
    if not rows:
        return
    await conn.execute(delete(t).where(t.c.user_id == user_id))
    for row in rows:
        row["user_id"] = NO_USER
    rows.sort(key=lambda r: (r["day"], str(r["user_id"]), *(r[k] for k in KEY[2:])))
    statement = upsert(conn.dialect)
    for start in range(0, len(rows), CHUNK):
        await conn.execute(statement, rows[start : start + CHUNK])


_SOURCE = (
    UsageEvent.id,
    UsageEvent.occurred_at,
    UsageEvent.user_id,
    UsageEvent.model_name,
    UsageEvent.provider_name,
    UsageEvent.currency,
    UsageEvent.status,
    UsageEvent.prompt_tokens,
    UsageEvent.completion_tokens,
    UsageEvent.cached_tokens,
    UsageEvent.latency_ms,
    UsageEvent.cost,
    UsageEvent.credits,
)


def backfill(conn: Connection, batch: int = BACKFILL_BATCH) -> int:
    """Add every stored call to the roll-ups (meant for an empty table), ``batch`` calls at
    a time in id order; the number of calls added."""
    statement = upsert(conn.dialect)
    last: uuid.UUID | None = None
    done = 0
    while True:
        query = select(*_SOURCE).order_by(UsageEvent.id).limit(batch)
        if last is not None:
            query = query.where(UsageEvent.id > last)
        rows = [dict(r._mapping) for r in conn.execute(query)]
        if not rows:
            return done
        last = rows[-1]["id"]
        values = deltas(rows)
        for start in range(0, len(values), CHUNK):
            conn.execute(statement, values[start : start + CHUNK])
        done += len(rows)
