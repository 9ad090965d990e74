"""The monthly partitions of ``usage_events`` on PostgreSQL: their names, bounds and DDL.

Since migration 0010 ``usage_events`` is ``PARTITION BY RANGE (occurred_at)``, one partition
per UTC calendar month (``usage_events_y2026m12``: ``[2026-12-01, 2027-01-01)`` UTC) and a
``DEFAULT`` partition (``usage_events_default``) that takes any row no month holds yet: a
call replayed from the outbox long after its month was dropped, a clock far off. No row is
ever refused for want of a partition; maintenance (:mod:`modelyard.usage.partitions`) later
moves such rows into their month's partition.

A month is created beside the parent and then attached (``ATTACH PARTITION`` takes a
``SHARE UPDATE EXCLUSIVE`` lock on the parent, which writers and readers do not wait for,
where ``CREATE TABLE ... PARTITION OF`` would take an ``ACCESS EXCLUSIVE`` one): attaching
gives it every index and foreign key defined on the parent, including ones later
migrations add. Rows of that month waiting in the default partition are moved in the same
transaction (the default partition is locked against new rows meanwhile, else the attach
would find one there and fail).

Both the migration and the maintenance use this module, synchronously (the migration) or
through ``run_sync``; all SQL here holds names made from dates and constants only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, text

PARENT = "usage_events"
DEFAULT = "usage_events_default"
PREFIX = "usage_events_y"
MONTHS_OF = (  # the UTC months a table holds rows of
    "SELECT DISTINCT CAST(date_trunc('month', occurred_at AT TIME ZONE 'UTC') AS date) "
    "FROM {table} ORDER BY 1"
)


def month_of(moment: datetime | date) -> date:
    """The first day of the UTC month holding ``moment``."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date()
    return moment.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def name_of(month: date) -> str:
    return f"{PREFIX}{month.year:04d}m{month.month:02d}"


def month_named(name: str) -> date | None:
    """The month a partition's name stands for, or None (the default, or no partition)."""
    if not name.startswith(PREFIX) or len(name) != len(PREFIX) + 7:
        return None
    year, sep, month = name[len(PREFIX) :].partition("m")
    if not (sep and year.isdigit() and month.isdigit() and 1 <= int(month) <= 12):
        return None
    return date(int(year), int(month), 1)


def bounds(month: date) -> tuple[datetime, datetime]:
    """The partition's range: from the month's first instant (UTC) to the next month's."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = add_months(month, 1)
    return start, datetime(end.year, end.month, 1, tzinfo=UTC)


def _literal(moment: datetime) -> str:
    return f"'{moment.strftime('%Y-%m-%d %H:%M:%S')}+00'"


@dataclass(frozen=True)
class Partition:
    name: str
    month: date | None  # None: the default partition
    rows: int  # the planner's estimate (pg_class.reltuples), or an exact count when asked
    bytes: int  # table, indexes and TOAST


def is_partitioned(conn: Connection) -> bool:
    """True on a PostgreSQL database where ``usage_events`` is partitioned (0010 or later)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.scalar(
        text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:t)"), {"t": PARENT}
    )
    return bool(kind == "p")


def partitions(conn: Connection, *, exact: bool = False) -> list[Partition]:
    """The partitions attached to ``usage_events``, the default first, then by month."""
    found = conn.execute(
        text(
            "SELECT c.relname, c.reltuples, pg_total_relation_size(c.oid) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": PARENT},
    ).all()
    out = []
    for name, estimate, size in found:
        rows = max(int(estimate), 0)
        if exact:
            rows = int(conn.scalar(text(f'SELECT count(*) FROM "{name}"')) or 0)  # noqa: S608
        out.append(Partition(name, month_named(name), rows, int(size)))
    out.sort(key=lambda p: (p.month is not None, p.month or date.min))
    return out


def create_default(conn: Connection) -> None:
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS {DEFAULT} PARTITION OF {PARENT} DEFAULT"))


def create_month(conn: Connection, month: date) -> bool:
    """Make ``month``'s partition unless it is one, moving in the rows of that month the
    default partition holds; True when it was made. A table of that name that is no
    partition (detached by a maintenance run that did not drop it) is attached again, rows
    and all. Runs in the caller's transaction."""
    name = name_of(month)
    attached = conn.scalar(
        text("SELECT relispartition FROM pg_class WHERE oid = to_regclass(:n)"), {"n": name}
    )
    if attached:
        return False
    start, end = (_literal(b) for b in bounds(month))
    has_default = bool(conn.scalar(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": DEFAULT}))
    if attached is None:
        conn.execute(
            text(
                f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                "INCLUDING STORAGE)"
            )
        )
    # The attach checks the new table against its range without a scan given this CHECK.
    conn.execute(
        text(
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_range CHECK (occurred_at IS NOT NULL "
            f"AND occurred_at >= {start} AND occurred_at < {end})"
        )
    )
    if has_default:  # rows of that month that arrived before it existed
        conn.execute(text(f"LOCK TABLE {DEFAULT} IN SHARE ROW EXCLUSIVE MODE"))
        conn.execute(
            text(
                f"WITH moved AS (DELETE FROM {DEFAULT} WHERE occurred_at >= {start} "  # noqa: S608
                f"AND occurred_at < {end} RETURNING *) INSERT INTO {name} SELECT * FROM moved"
            )
        )
    conn.execute(
        text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ({start}) TO ({end})")
    )
    conn.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range"))
    return True


def default_months(conn: Connection) -> list[date]:
    """The months of the rows waiting in the default partition."""
    found = conn.scalars(text(MONTHS_OF.format(table=DEFAULT)))
    return list(found)


def is_partition_name(name: str | None) -> bool:
    """A partition of ``usage_events`` (not in the models: Alembic's comparison skips it)."""
    return name == DEFAULT or (name is not None and month_named(name) is not None)


def include_name(name: str | None, kind: str, parents: Any) -> bool:
    """Alembic's ``include_name`` hook: the models do not list the partitions."""
    return not (kind == "table" and is_partition_name(name))


# The models hold SQLite's keys; on PostgreSQL these also hold occurred_at (see 0010).
# Alembic never compares primary keys; the request-id one it would.
PARTITIONED_KEYS = frozenset({"uq_usage_events_request_id"})


def include_object(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's ``include_object`` hook for a database of ``dialect``."""

    def include(obj: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
        return not (
            dialect == "postgresql" and kind == "unique_constraint" and name in PARTITIONED_KEYS
        )

    return include
