"""Filling ``usage_daily`` from the calls already stored (migration 0009; the console
benchmark): the same sums :mod:`modelyard.db.rollup` keeps as calls are written.

* PostgreSQL: one ``INSERT ... SELECT`` that the server runs: the calls grouped by day and
  currency over ``GROUPING SETS`` (one per grain), amounts summed as exact NUMERIC in units
  of 10^-10 and split into the two integer parts (a million calls: seconds).
* SQLite: the calls read ``batch`` at a time in id order, summed in Python
  (:func:`~modelyard.db.rollup.deltas`) and added like the writer adds them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, func, select, text

from modelyard.db.rollup import (
    ALL,
    BY_MODEL,
    BY_PROVIDER,
    BY_USER,
    CHUNK,
    FULL,
    MODEL_PROVIDER,
    MONTHLY,
    USER_PROVIDER,
    deltas,
    upsert,
)
from modelyard.db.tables import UsageEvent

BATCH = 50_000  # calls read per step on SQLite

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


def backfill(conn: Connection, batch: int = BATCH) -> int:
    """Add every stored call to the roll-ups (meant for an empty table); the number of
    calls added."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(_PG_FILL))
        return int(conn.scalar(select(func.count()).select_from(UsageEvent)) or 0)
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


# GROUPING(u, m, p) has a bit set for each of user (4), model (2), provider (1) left out.
_GRAIN_OF_BITS = {
    0: FULL,
    2: USER_PROVIDER,
    4: MODEL_PROVIDER,
    3: BY_USER,
    5: BY_MODEL,
    6: BY_PROVIDER,
    7: ALL,
}
_N = "10000000000"  # 10^10: units of 10^-10 per currency unit
_PARTS = """
    (({s}) - mod(mod({s}, {n}) + {n}, {n})) / {n},
    mod(mod({s}, {n}) + {n}, {n})"""


_COLUMNS = """grain, day, user_id, model_name, provider_name, currency,
    calls, errors, prompt_tokens, completion_tokens, cached_tokens, latency_ms_total,
    cost_whole, cost_frac, credits_whole, credits_frac, credited_calls"""


def pg_fill(source: str, into: str = "usage_daily") -> str:
    """``INSERT INTO into`` the roll-ups of the calls ``source`` holds (a table name or a
    parenthesised query with usage_events' columns), daily and monthly: the query
    :func:`backfill` runs, also used to check a month's roll-ups before its partition is
    dropped. The monthly rows are summed from the daily rows the same statement inserts."""
    return f"""
WITH daily AS (
INSERT INTO {into} ({_COLUMNS})
SELECT
    CASE GROUPING(u, m, p) {" ".join(f"WHEN {b} THEN {g}" for b, g in _GRAIN_OF_BITS.items())}
    END,
    day,
    COALESCE(u, '{uuid.UUID(int=0)}'::uuid), COALESCE(m, ''), COALESCE(p, ''), currency,
    count(*), count(*) FILTER (WHERE status <> 'ok'),
    sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), sum(latency_ms),
    {_PARTS.format(s="COALESCE(sum(cost_units), 0)", n=_N)},
    {_PARTS.format(s="COALESCE(sum(credit_units), 0)", n=_N)},
    count(credit_units)
FROM (
    SELECT
        CAST(occurred_at AT TIME ZONE 'UTC' AS date) AS day,
        COALESCE(user_id, '{uuid.UUID(int=0)}'::uuid) AS u,
        COALESCE(model_name, '') AS m,
        COALESCE(provider_name, '') AS p,
        COALESCE(currency, '') AS currency,
        status, prompt_tokens, completion_tokens, cached_tokens, latency_ms,
        round(cost * {_N}) AS cost_units,
        round(credits * {_N}) AS credit_units
    FROM {source} AS source
) AS calls
GROUP BY day, currency, GROUPING SETS ((u, m, p), (u, p), (m, p), (u), (m), (p), ())
RETURNING *
)
INSERT INTO {into} ({_COLUMNS})
SELECT
    grain + {MONTHLY}, CAST(date_trunc('month', day) AS date),
    user_id, model_name, provider_name, currency,
    sum(calls), sum(errors), sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens),
    sum(latency_ms_total),
    sum(cost_whole) + div(sum(cost_frac), {_N}), mod(sum(cost_frac), {_N}),
    sum(credits_whole) + div(sum(credits_frac), {_N}), mod(sum(credits_frac), {_N}),
    sum(credited_calls)
FROM daily
WHERE grain <> {FULL}
GROUP BY grain, CAST(date_trunc('month', day) AS date), user_id, model_name, provider_name,
    currency
"""  # noqa: S608 (no value from outside: constants and the caller's table names only)


_PG_FILL = pg_fill("usage_events")
