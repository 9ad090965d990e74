"""Keeping ``usage_daily`` equal to what ``usage_events`` holds, day by day.

Every place that stores or removes calls adds the same change to the roll-ups in its own
transaction: the usage writer adds the rows it newly stored (:func:`add`), purging a user
folds their roll-ups into the no-user ones (:func:`fold_user`), and migration 0009 fills the
table from the calls already stored (:func:`modelyard.db.rollup_backfill.backfill`, also used
by the console benchmark).

Each call is counted at seven grains (:data:`GRAINS`): per user, model and provider; per
user and provider, per model and provider; per user, per model, per provider; and in all;
each per day and currency, so that a chart of everyone's calls over 90 days reads 90 rows,
not every (user, model) pair of every day, and a table of models by provider reads a row per
pair and day, not one per user too. The dimensions a grain leaves out hold the no-user /
no-name key; :func:`coarsest` picks the grain a question reads. (User and model without the
provider is left to the finest grain: a model is served by one provider or a few, so that
grain would be nearly as large.)

Rows are first summed here in Python per grain and key (amounts as integer units of
10^-10), then added as ``INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x`` for each
key, in key order (two writers on PostgreSQL lock the same rows in the same order: no
deadlock): the writer's in bulk (:mod:`modelyard.db.rollup_bulk`), a purge's and SQLite's
backfill through :func:`upsert`. Both engines add in SQL, exactly: counts are integers, and
each amount is split into integer parts (:func:`split`): SQLite would add decimal text as
floats, and integers alone in units of 10^-10 could overflow a 64-bit integer at 922 million
currency units.

No overflow: an amount fits ``NUMERIC(20, 10)``, so its floor is below 10^10 and its
fraction below 10^10 units; a roll-up row's fraction is carried into its whole part on every
addition (it stays below 10^10), so a sum overflows only past 9.2 * 10^18 currency units, and
a query summing fractions over N roll-up rows stays below N * 10^10 (exact for N < 9 * 10^8).
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import MAXYEAR, UTC, date
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, literal_column, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from modelyard.db.rollup_tables import UsageDaily

NO_USER = uuid.UUID(int=0)  # the key of calls without a user (none, or since purged)
NO_NAME = ""  # the key of calls without a model, provider or currency
SCALE = 10**10  # Money's ten decimal places
PLACES = Decimal(1).scaleb(-10)
_WIDE = Context(prec=80)  # sums of NUMERIC(20, 10) amounts, never rounded
# Grains: which of user, model and provider a roll-up row keeps (the others are left out).
FULL, BY_USER, BY_MODEL, BY_PROVIDER, ALL, USER_PROVIDER, MODEL_PROVIDER = range(7)
GRAINS = {  # grain: (keeps the user, the model, the provider); coarsest last
    FULL: (True, True, True),
    USER_PROVIDER: (True, False, True),
    MODEL_PROVIDER: (False, True, True),
    BY_USER: (True, False, False),
    BY_MODEL: (False, True, False),
    BY_PROVIDER: (False, False, True),
    ALL: (False, False, False),
}
# Each grain but the finest also has a monthly twin, ``grain + MONTHLY``: a row per month
# (``day`` its first day) summing that month's daily rows, so that a range of several months
# reads a row per month for its whole months (a ranking of 2,000 models over 90 days: ~3
# months' rows and ~30 days' rather than 90 days').
MONTHLY = 10
KEY = ("grain", "day", "user_id", "model_name", "provider_name", "currency")
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
Key = tuple[int, date, uuid.UUID, str, str, str]
Row = Mapping[str, Any]


def coarsest(user: bool, model: bool, provider: bool) -> int:
    """The grain with the fewest rows that keeps each dimension asked for."""
    for grain, kept in reversed(GRAINS.items()):
        if all(k or not wanted for k, wanted in zip(kept, (user, model, provider), strict=True)):
            return grain
    raise AssertionError("FULL keeps every dimension")  # pragma: no cover


def whole_months(first: date | None, end: date | None) -> tuple[date | None, date | None] | None:
    """The whole months [m1, m2) inside the days [first, end) (``None``: unbounded), or
    ``None`` when no whole month is inside."""
    if first is not None and first.day != 1 and (first.year, first.month) == (MAXYEAR, 12):
        return None  # no month starts after it: the calendar ends that December
    m1 = first if first is None or first.day == 1 else _next_month(first)
    m2 = None if end is None else end.replace(day=1)
    if m1 is not None and m2 is not None and m1 >= m2:
        return None
    return m1, m2


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def rows_of(grain: int, first: date | None, end: date | None) -> ColumnElement[bool]:
    """The roll-up rows of ``grain`` holding the days [first, end) (``None``: unbounded):
    a monthly row for each whole month inside (grains that have months), daily rows for
    the rest. Every call of those days is in exactly one of them."""
    t = UsageDaily
    months = whole_months(first, end) if grain != FULL else None
    if months is None:
        return and_(t.grain == grain, *_within(t.day, first, end))
    m1, m2 = months
    parts = [and_(t.grain == grain + MONTHLY, *_within(t.day, m1, m2))]
    if first is not None and m1 is not None and first < m1:
        parts.append(and_(t.grain == grain, t.day >= first, t.day < m1))
    if m2 is not None and (end is None or m2 < end):
        parts.append(and_(t.grain == grain, *_within(t.day, m2, end)))
    return or_(*parts)


def _within(column: Any, first: date | None, end: date | None) -> list[ColumnElement[bool]]:
    out = []
    if first is not None:
        out.append(column >= first)
    if end is not None:
        out.append(column < end)
    return out


def table() -> Table:
    t = UsageDaily.__table__
    assert isinstance(t, Table)
    return t


def split(amount: Decimal) -> tuple[int, int]:
    """An amount as (floor, fraction in units of 10^-10); at most ten places, as stored."""
    return divmod(units_of(amount), SCALE)


def units_of(amount: Decimal) -> int:
    """An amount in units of 10^-10, exact (rounded half-even to ten places first only if it
    has more, which a stored amount never has)."""
    scaled = amount.scaleb(10, _WIDE)
    units = int(scaled)
    if scaled != units:
        units = int(amount.quantize(PLACES, ROUND_HALF_EVEN, _WIDE).scaleb(10, _WIDE))
    return units


def join(whole: Any, frac: Any) -> Decimal:
    """The amount two summed parts make (the database may answer them as Decimal)."""
    return amount_of(int(whole) * SCALE + int(frac))


def amount_of(units: int) -> Decimal:
    """The amount ``units`` of 10^-10 make, in :func:`~modelyard.db.types.canonical` form
    (no trailing zeros, no exponent); exact at any size, and cheap (a report may make tens
    of thousands)."""
    sign, units = ("-", -units) if units < 0 else ("", units)
    whole, frac = divmod(units, SCALE)
    if not frac:
        return Decimal(f"{sign}{whole}")
    return Decimal(f"{sign}{whole}.{frac:010d}".rstrip("0"))


def key_of(row: Row) -> Key:
    """A call's key at the finest grain."""
    return (
        FULL,
        row["occurred_at"].astimezone(UTC).date(),
        row["user_id"] or NO_USER,
        row["model_name"] or NO_NAME,
        row["provider_name"] or NO_NAME,
        row["currency"] or NO_NAME,
    )


def deltas(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """What ``rows`` (calls, as stored) add to each roll-up row, in key order. Amounts are
    added as integer units of 10^-10 (exact, and cheap to add at every grain), then split
    once per roll-up row."""
    sums: dict[Key, list[Any]] = {}
    for row in rows:
        s = sums.get(key := key_of(row))
        if s is None:
            s = sums[key] = _zero()
        s[0] += 1
        s[1] += row["status"] != "ok"
        s[2] += row["prompt_tokens"] or 0
        s[3] += row["completion_tokens"] or 0
        s[4] += row["cached_tokens"] or 0
        s[5] += row["latency_ms"] or 0
        if (cost := row["cost"]) is not None:
            s[7] += units_of(cost)
        if (credits := row["credits"]) is not None:
            s[6] += 1
            s[8] += units_of(credits)
    _add_coarser(sums)
    return [_delta(key, sums[key]) for key in sorted(sums, key=_order)]


def _add_coarser(sums: dict[Key, list[Any]]) -> None:
    """Add the finest grain's sums to every coarser grain's, daily and monthly."""
    for key, s in list(sums.items()):
        _, day, user, model, provider, currency = key
        for grain, (by_user, by_model, by_provider) in GRAINS.items():
            if grain == FULL:
                continue
            coarse = (
                grain,
                day,
                user if by_user else NO_USER,
                model if by_model else NO_NAME,
                provider if by_provider else NO_NAME,
                currency,
            )
            month = (grain + MONTHLY, day.replace(day=1), *coarse[2:])
            for at in (coarse, month):
                into = sums.get(at)
                sums[at] = s.copy() if into is None else list(map(operator.add, into, s))


def _zero() -> list[int]:
    return [0] * 9


def _order(key: Key | Sequence[Any]) -> tuple[Any, ...]:
    return (key[0], key[1], str(key[2]), *key[3:])


def _delta(key: Key, s: list[Any]) -> dict[str, Any]:
    out = dict(zip(KEY, key, strict=True))
    out.update(zip(COUNTS, s[:7], strict=True))
    out["cost_whole"], out["cost_frac"] = divmod(s[7], SCALE)
    out["credits_whole"], out["credits_frac"] = divmod(s[8], SCALE)
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
    from modelyard.db import rollup_bulk  # noqa: PLC0415 (it imports this module)

    await rollup_bulk.add(conn, values)


async def fold_user(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    """The user's roll-ups join the no-user ones: what their calls become when the user is
    purged (``ON DELETE SET NULL``). Call it after deleting the user, in that transaction
    (on PostgreSQL the deleted row then holds back any writer still adding their calls)."""
    t = table()
    theirs = t.c.user_id == user_id
    rows = [dict(r._mapping) for r in await conn.execute(select(t).where(theirs))]
    if not rows:
        return
    await conn.execute(delete(t).where(theirs))
    for row in rows:
        row["user_id"] = NO_USER
    rows.sort(key=lambda r: _order([r[k] for k in KEY]))
    statement = upsert(conn.dialect)
    for start in range(0, len(rows), CHUNK):
        await conn.execute(statement, rows[start : start + CHUNK])
