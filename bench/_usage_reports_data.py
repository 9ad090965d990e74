"""The usage-report benchmark's data (see ``usage_reports.py``): 10 million calls on PostgreSQL.

The registry rows (50 users with keys, 50 providers, 2,000 priced models) come from the
console benchmark's builder (:mod:`_console_data`, no calls); a fifth of the providers then
price in EUR, so that reports meet two currencies. The calls are made by the database
itself, a million per ``INSERT ... SELECT`` over ``generate_series``, with the indexes of
``usage_events`` dropped meanwhile and made again afterwards (the same definitions, on the
partitioned table and so on each partition), into the monthly partitions the server's
maintenance would have made as the months came (made here first, so that no call lands in
the DEFAULT partition, which has no month's bounds to prune by): spread
uniformly over the last 95 days and stored oldest first, as the usage writer stores them (a
day's calls sit together in the table as in real use; stored in random order, a partial
day's range scan read pages from all over the table); models on a long tail (~1/rank), users
skewed, 3 % errors, 1 % aborted, 6 % unpriced, 30 % of the priced credited, 0.5 % without a
user (as after a purge). The daily roll-ups are then filled by migration 0009's statement.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _console_data as console
import asyncpg

from modelyard.db.engine import create_engine
from modelyard.db.partitions import add_months, create_month, month_of
from modelyard.db.rollup_backfill import _PG_FILL  # migration 0009's own statement

CHUNK = 1_000_000
DAYS = 95

_INSERT = """
INSERT INTO usage_events (
    id, request_id, client_request_id, occurred_at, user_id, api_key_id, provider_id,
    model_id, provider_name, model_name, operation, prompt_tokens, completion_tokens,
    cached_tokens, cache_write_tokens, estimated, latency_ms, ttft_ms, attempts, status,
    error_code, price_id, input_per_mtok, output_per_mtok, cached_input_per_mtok,
    cache_write_per_mtok, currency, cost, credits, charged_credits, metadata
)
SELECT
    gen_random_uuid(), 'bench-' || g.n, 'client-' || (g.n % 100000),
    now() - ({rows} - g.n + g.r_time) / {rows}.0 * interval '{days} days',
    CASE WHEN g.r_user < 0.005 THEN NULL ELSE u.id END, CASE WHEN g.r_user < 0.005
    THEN NULL ELSE u.key_id END, m.provider_id, m.id, m.provider_name, m.model_name, 'chat',
    g.prompt, CASE WHEN g.r_status < 0.04 THEN 0 ELSE g.completion END,
    CASE WHEN g.r_cache < 0.2 THEN g.prompt / 4 ELSE 0 END, 0, false,
    80 + (g.r_cache * 3920)::int, NULL, 1,
    CASE WHEN g.r_status < 0.03 THEN 'error' WHEN g.r_status < 0.04 THEN 'aborted' ELSE 'ok' END,
    CASE WHEN g.r_status < 0.03 THEN 'upstream_error' ELSE NULL END,
    CASE WHEN g.priced THEN m.price_id END, CASE WHEN g.priced THEN m.inp END,
    CASE WHEN g.priced THEN m.outp END, NULL, NULL,
    CASE WHEN g.priced THEN m.currency END,
    CASE WHEN g.priced THEN round((g.prompt * m.inp + g.completion * m.outp) / 1000000, 10) END,
    CASE WHEN g.priced AND g.r_credit < 0.3
        THEN round((g.prompt + g.completion) * 0.00025, 10) END,
    NULL, '{{}}'::jsonb
FROM (
    SELECT n, random() AS r_time, random() AS r_user, random() AS r_status,
        random() AS r_cache, random() AS r_credit,
        (10 + random() * 7990)::int AS prompt, (random() * 2000)::int AS completion,
        floor(exp(random() * ln({models} + 1)))::int - 1 AS mi,
        least({users} - 1, floor({users} * power(random(), 1.6))::int) AS ui,
        random() >= 0.06 AS priced
    FROM generate_series($1::bigint, $2::bigint) AS n
) AS g
JOIN bench_models AS m ON m.idx = least(g.mi, {models} - 1)
JOIN bench_users AS u ON u.idx = g.ui
"""

_MODELS = """
CREATE TEMP TABLE bench_models AS
SELECT (row_number() OVER (ORDER BY m.model_id)) - 1 AS idx, m.id, m.model_id AS model_name,
    p.id AS provider_id, p.name AS provider_name, mp.id AS price_id,
    mp.input_per_mtok AS inp, mp.output_per_mtok AS outp, mp.currency
FROM models AS m JOIN providers AS p ON p.id = m.provider_id
JOIN model_prices AS mp ON mp.model_id = m.id
"""
_USERS = """
CREATE TEMP TABLE bench_users AS
SELECT (row_number() OVER (ORDER BY u.email)) - 1 AS idx, u.id, min(k.id::text)::uuid AS key_id
FROM users AS u LEFT JOIN api_keys AS k ON k.user_id = u.id GROUP BY u.id, u.email
"""
_EUR = """
UPDATE model_prices SET currency = 'EUR' WHERE model_id IN (
    SELECT m.id FROM models AS m JOIN providers AS p ON p.id = m.provider_id
    WHERE p.name LIKE 'bench-%' AND right(p.name, 1) IN ('0', '5'))
"""
_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE tablename = 'usage_events'
    AND indexname NOT IN (SELECT conname FROM pg_constraint)  -- the key and unique ones stay
"""


async def build(url: str, dsn: str, key_file: Path, rows: int) -> dict[str, float]:
    """Fill the empty database (migrated to head by the registry's bootstrap)."""
    timings = await console.build(url, key_file, 0)
    engine = create_engine(url)
    try:
        month = month_of(datetime.now(UTC) - timedelta(days=DAYS + 1))
        async with engine.begin() as made:
            while month <= month_of(datetime.now(UTC)):
                await made.run_sync(create_month, month)
                month = add_months(month, 1)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(dsn)
    try:
        start = time.perf_counter()
        await conn.execute(_EUR)
        counts = await conn.fetchrow("SELECT count(*) FROM models")
        models = int(counts[0]) if counts else 0
        users = int(await conn.fetchval("SELECT count(*) FROM users"))
        await conn.execute(_MODELS)
        await conn.execute(_USERS)
        indexes = await conn.fetch(_INDEXES)
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        insert = _INSERT.format(days=DAYS, models=models, users=users, rows=rows)
        for first in range(1, rows + 1, CHUNK):
            last = min(rows, first + CHUNK - 1)
            await conn.execute(insert, first, last)
            print(f"  {last:,} of {rows:,} usage rows", flush=True)
        timings[f"{rows:,} usage rows made in SQL"] = time.perf_counter() - start
        start = time.perf_counter()
        for index in indexes:  # the constraints' stayed; the rest as the migrations made them
            # pg_indexes shows a partitioned table's index "ON ONLY" the parent: made so, it
            # would stay invalid, on no partition
            await conn.execute(index["indexdef"].replace(" ON ONLY ", " ON ", 1))
        timings["usage_events indexes made again"] = time.perf_counter() - start
        start = time.perf_counter()
        await conn.execute("DELETE FROM usage_daily")
        await conn.execute(_PG_FILL)
        timings["daily roll-ups filled in SQL (migration 0009's statement)"] = (
            time.perf_counter() - start
        )
        start = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE) usage_events")
        await conn.execute("VACUUM (ANALYZE) usage_daily")
        timings["VACUUM ANALYZE"] = time.perf_counter() - start
        invalid = await conn.fetch("SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid")
        stray = await conn.fetchval("SELECT count(*) FROM usage_events_default")
        if invalid or stray:
            raise RuntimeError(f"indexes left invalid: {invalid}; calls in DEFAULT: {stray}")
    finally:
        await conn.close()
    return timings
