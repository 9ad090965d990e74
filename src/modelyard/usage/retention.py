"""Dropping a detached month of ``usage_events`` only once ``usage_daily`` is known to hold it.

Reports and charts over dropped months read the daily roll-ups, so before a month's rows go
the roll-ups of its days are rebuilt from those rows into a temporary table, with the very
query the migration filled them with (:func:`modelyard.db.rollup_backfill.pg_fill`), at
every grain, and compared row by row with what ``usage_daily`` holds (``EXCEPT`` both
ways). Days that differ (a roll-up written by a version with a bug, a row edited by hand)
are replaced by the rebuilt ones; then the table is dropped. All of it is one registry
write transaction, with the audit event of the drop (hash-chained like every other), so a
failure leaves the month detached but whole, for the next run to finish.

The rows of that month compared are the detached table's and any the default partition has
taken since the detach (a late outbox replay): the default partition is locked against new
rows meanwhile, so the comparison and the writers' roll-up additions cannot cross.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

from modelyard.db import partitions as ddl
from modelyard.db.rollup_backfill import pg_fill
from modelyard.registry.actors import Actor
from modelyard.registry.tx import Database

EXPECTED = "usage_daily_expected"  # the rebuilt roll-ups, dropped at commit
COLUMNS = (
    "grain, day, user_id, model_name, provider_name, currency, calls, errors, prompt_tokens, "
    "completion_tokens, cached_tokens, latency_ms_total, cost_whole, cost_frac, "
    "credits_whole, credits_frac, credited_calls"
)

DROPPED_ACTION = "usage.partition_dropped"  # one audit event a month dropped


@dataclass(frozen=True)
class Dropped:
    name: str
    month: date
    rows: int
    refilled_days: list[date]  # days whose roll-ups differed from the rows and were rebuilt


def detached(conn: Connection) -> list[ddl.Partition]:
    """Month tables of usage_events that are no partition of it (a run detached them and
    has not dropped them yet), oldest first."""
    found = conn.execute(
        text(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE :p "
            "AND NOT c.relispartition"
        ),
        {"p": ddl.PREFIX + "%"},
    ).all()
    out = []
    for name, size in found:
        month = ddl.month_named(name)
        if month is not None:
            rows = int(conn.scalar(text(f'SELECT count(*) FROM "{name}"')) or 0)  # noqa: S608
            out.append(ddl.Partition(name, month, rows, int(size)))
    return sorted(out, key=lambda p: p.month or date.min)


async def drop_month(db: Database, actor: Actor, month: date, lock_timeout: str) -> Dropped:
    """Check (and refill) the roll-ups of ``month``'s days from its detached table, drop the
    table and record it, in one transaction. Its locks (the default partition; the tables
    its foreign keys point at, while they are dropped with it) are waited for at most
    ``lock_timeout``, else the transaction fails whole and the month stays detached."""
    name = ddl.name_of(month)
    start, end = ddl.bounds(month)
    async with db.write(actor) as tx:
        conn = await tx.session.connection()
        await conn.execute(text(f"SET LOCAL lock_timeout = '{lock_timeout}'"))
        await conn.execute(text(f"LOCK TABLE {ddl.DEFAULT} IN SHARE ROW EXCLUSIVE MODE"))
        rows = int(await conn.scalar(text(f"SELECT count(*) FROM {name}")) or 0)  # noqa: S608
        source = (
            f"(SELECT * FROM {name} UNION ALL SELECT * FROM {ddl.DEFAULT} "  # noqa: S608
            "WHERE occurred_at >= :start AND occurred_at < :end)"
        )
        times = {"start": start, "end": end}
        days = await _refill(conn, source, times, start.date(), end.date())
        await conn.execute(text(f"DROP TABLE {name}"))
        await tx.record(
            DROPPED_ACTION,
            "usage_partition",
            name,
            before={"month": month.strftime("%Y-%m"), "rows": rows},
            after={"refilled_days": [d.isoformat() for d in days]},
        )
    return Dropped(name, month, rows, days)


async def _refill(
    conn: AsyncConnection, source: str, times: Mapping[str, object], first: date, after: date
) -> list[date]:
    """Rebuild the roll-ups of the days ``[first, after)`` from ``source``; replace those
    that differ in ``usage_daily``; the days replaced."""
    await conn.execute(
        text(f"CREATE TEMP TABLE {EXPECTED} (LIKE usage_daily INCLUDING ALL) ON COMMIT DROP")
    )
    await conn.execute(text(pg_fill(source, into=EXPECTED)), times)
    held = f"SELECT {COLUMNS} FROM usage_daily WHERE day >= :first AND day < :after"  # noqa: S608
    rebuilt = f"SELECT {COLUMNS} FROM {EXPECTED}"  # noqa: S608
    differing = text(
        f"SELECT DISTINCT day FROM (({rebuilt} EXCEPT {held}) "  # noqa: S608
        f"UNION ALL ({held} EXCEPT {rebuilt})) AS d ORDER BY day"
    )
    span = {"first": first, "after": after}
    days = list(await conn.scalars(differing, span))
    if days:
        await conn.execute(text("DELETE FROM usage_daily WHERE day = ANY(:days)"), {"days": days})
        await conn.execute(
            text(
                f"INSERT INTO usage_daily ({COLUMNS}) SELECT {COLUMNS} "  # noqa: S608
                f"FROM {EXPECTED} WHERE day = ANY(:days)"
            ),
            {"days": days},
        )
    await conn.execute(text(f"DROP TABLE {EXPECTED}"))
    return days
