"""Indexes for usage reports at scale: the calls' order ``(occurred_at, id)`` (newest-first
pages, keyset paging; it replaces the index of ``occurred_at`` alone, which it covers), and
``(model_name, occurred_at)``, ``(provider_name, occurred_at)``, ``(status, occurred_at)``
for a page or a count filtered on one of them (measured at 10 million calls: without them a
page of one model's calls scanned the whole time index, a count of errors the whole table).
Plain ``CREATE INDEX`` (no ``CONCURRENTLY``, which cannot run in a migration's transaction):
it also works on a partitioned parent table, which builds each partition's index. An index
already there under its name (built beforehand with ``CONCURRENTLY``, as docs/deployment.md
suggests for a large table) is kept.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW = {
    "ix_usage_events_time_id": ["occurred_at", "id"],
    "ix_usage_events_model_name_time": ["model_name", "occurred_at"],
    "ix_usage_events_provider_name_time": ["provider_name", "occurred_at"],
    "ix_usage_events_status_time": ["status", "occurred_at"],
}


def upgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        for name, columns in _NEW.items():
            batch_op.create_index(name, columns, unique=False, if_not_exists=True)
        batch_op.drop_index("ix_usage_events_occurred_at", if_exists=True)


def downgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_index("ix_usage_events_occurred_at", ["occurred_at"], unique=False)
        for name in _NEW:
            batch_op.drop_index(name)
