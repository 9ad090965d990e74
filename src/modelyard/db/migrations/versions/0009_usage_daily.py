"""Daily usage roll-ups: ``usage_daily``, one row per UTC day, user, model, provider and
currency, filled from the calls already stored (in batches, exactly: see
:mod:`modelyard.db.rollup`). The downgrade drops the table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 13:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from modelyard.db.rollup import backfill

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUMS = (
    "calls",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "latency_ms_total",
    "cost_whole",
    "cost_frac",
    "credits_whole",
    "credits_frac",
    "credited_calls",
)


def upgrade() -> None:
    op.create_table(
        "usage_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("provider_name", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _SUMS),
        sa.PrimaryKeyConstraint(
            "day",
            "user_id",
            "model_name",
            "provider_name",
            "currency",
            name=op.f("pk_usage_daily"),
        ),
    )
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.create_index("ix_usage_daily_user_day", ["user_id", "day"], unique=False)
    backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_daily_user_day")
    op.drop_table("usage_daily")
