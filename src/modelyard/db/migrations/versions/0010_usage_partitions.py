"""``usage_events`` partitioned by month on PostgreSQL (SQLite: nothing changes).

PostgreSQL requires the partition key in every primary and unique key, so the primary key
becomes ``(id, occurred_at)`` and the request-id uniqueness ``(request_id, occurred_at)``:
the usage writer's ``ON CONFLICT (request_id, occurred_at) DO NOTHING`` still stores a
replayed row once, since a replay (the outbox's copy of the row) carries the same
``occurred_at`` to the microsecond. Nothing references ``usage_events``; its foreign keys
(users, API keys, providers, models, prices) are defined on the parent and hold in every
partition.

Existing rows are COPIED into monthly partitions, not attached as one old partition behind a
matching CHECK: attaching would avoid rewriting the rows, but the old table's keys must be
rebuilt with ``occurred_at`` anyway (an index build over every row either way), and one
partition spanning every month so far could only be dropped whole, after its newest month
expired, so retention would keep years of calls it was set to remove. A copy makes one
partition per month that has rows, and retention works from the first day. The upgrade
takes about as long as an index build over the table: run it in the upgrade window.

Partitions: every month with rows, this month and the next three, and a DEFAULT partition
that takes any other row (see :mod:`modelyard.db.partitions`): no row is ever refused for
want of a month. The downgrade copies every row back into one plain table with the keys
and indexes of revision 0009.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection, text

from modelyard.db import partitions
from modelyard.db.types import utcnow

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AHEAD = 3  # months made ahead of this one by the upgrade (maintenance keeps them ahead)
OLD = "usage_events_0009"
MONTHLY = "usage_events_monthly"
INDEXES = {  # every index usage_events has at 0009, besides its keys
    "ix_usage_events_user_time": "user_id, occurred_at",
    "ix_usage_events_model_time": "model_id, occurred_at",
    "ix_usage_events_occurred_at": "occurred_at",
    "ix_usage_events_client_request_id": "client_request_id",
}
REFERENCES = {  # column: (table, foreign key name), all ON DELETE SET NULL
    "user_id": ("users", "fk_usage_events_user_id_users"),
    "api_key_id": ("api_keys", "fk_usage_events_api_key_id_api_keys"),
    "provider_id": ("providers", "fk_usage_events_provider_id_providers"),
    "model_id": ("models", "fk_usage_events_model_id_models"),
    "price_id": ("model_prices", "fk_usage_events_price_id_model_prices"),
}


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    _unkey(conn, "usage_events", OLD)
    _run(
        conn,
        f"CREATE TABLE usage_events (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE) PARTITION BY RANGE (occurred_at)",
    )
    this = partitions.month_of(utcnow())
    months = set(conn.scalars(text(partitions.MONTHS_OF.format(table=OLD))))
    months |= {partitions.add_months(this, n) for n in range(AHEAD + 1)}
    for month in sorted(months):
        partitions.create_month(conn, month)
    partitions.create_default(conn)
    _copy(conn, OLD, "usage_events")
    _run(conn, f"DROP TABLE {OLD}")
    _key(conn, ("id", "occurred_at"), ("request_id", "occurred_at"))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    _unkey(conn, "usage_events", MONTHLY)
    _run(
        conn,
        f"CREATE TABLE usage_events (LIKE {MONTHLY} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE)",
    )
    _copy(conn, MONTHLY, "usage_events")
    _run(conn, f"DROP TABLE {MONTHLY}")  # and every partition with it
    _key(conn, ("id",), ("request_id",))


def _unkey(conn: Connection, table: str, rename_to: str) -> None:
    """Rename ``table`` out of the way and free the names its keys and indexes hold (they
    are relations, unique in the schema); its foreign keys go too (rows are only read from
    it now)."""
    _run(conn, f"ALTER TABLE {table} RENAME TO {rename_to}")
    for name in ("pk_usage_events", "uq_usage_events_request_id"):
        _run(conn, f"ALTER TABLE {rename_to} DROP CONSTRAINT {name}")
    for name in INDEXES:
        _run(conn, f"DROP INDEX {name}")
    for _, fk in REFERENCES.values():
        _run(conn, f"ALTER TABLE {rename_to} DROP CONSTRAINT {fk}")


def _copy(conn: Connection, source: str, target: str) -> None:
    columns = ", ".join(
        f'"{name}"'
        for name in conn.scalars(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            ),
            {"t": source},
        )
    )
    _run(conn, f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {source}")  # noqa: S608


def _key(conn: Connection, primary: tuple[str, ...], unique: tuple[str, ...]) -> None:
    """The keys, indexes and foreign keys of ``usage_events``, built once its rows are in
    (on a partitioned table: on the parent, so every partition, present or future, has
    them)."""
    _run(
        conn,
        f"ALTER TABLE usage_events ADD CONSTRAINT pk_usage_events PRIMARY KEY ({', '.join(primary)})",
    )
    _run(
        conn,
        "ALTER TABLE usage_events ADD CONSTRAINT uq_usage_events_request_id "
        f"UNIQUE ({', '.join(unique)})",
    )
    for name, columns in INDEXES.items():
        _run(conn, f"CREATE INDEX {name} ON usage_events ({columns})")
    for column, (table, fk) in REFERENCES.items():
        _run(
            conn,
            f"ALTER TABLE usage_events ADD CONSTRAINT {fk} FOREIGN KEY ({column}) "
            f"REFERENCES {table} (id) ON DELETE SET NULL",
        )


def _run(conn: Connection, sql: str) -> None:
    conn.execute(text(sql))
