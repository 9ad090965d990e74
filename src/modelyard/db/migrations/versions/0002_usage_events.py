"""Usage events: one row per gateway call, idempotent by request id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:58:17.571796
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import modelyard.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("model_id", sa.Uuid(), nullable=True),
        sa.Column("provider_name", sa.String(length=64), nullable=True),
        sa.Column("model_name", sa.String(length=200), nullable=True),
        sa.Column("operation", sa.String(length=20), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("ttft_ms", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("price_id", sa.Uuid(), nullable=True),
        sa.Column(
            "input_per_mtok", modelyard.db.types.Money(precision=20, scale=10), nullable=True
        ),
        sa.Column(
            "output_per_mtok", modelyard.db.types.Money(precision=20, scale=10), nullable=True
        ),
        sa.Column(
            "cached_input_per_mtok", modelyard.db.types.Money(precision=20, scale=10), nullable=True
        ),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("cost", modelyard.db.types.Money(precision=20, scale=10), nullable=True),
        sa.Column("credits", modelyard.db.types.Money(precision=20, scale=10), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "operation IN ('chat', 'completion', 'embedding', 'function_call')",
            name=op.f("ck_usage_events_operation"),
        ),
        sa.CheckConstraint(
            "status IN ('ok', 'error', 'aborted')", name=op.f("ck_usage_events_status")
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_usage_events_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.id"],
            name=op.f("fk_usage_events_model_id_models"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["price_id"],
            ["model_prices.id"],
            name=op.f("fk_usage_events_price_id_model_prices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_usage_events_provider_id_providers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_usage_events_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_events")),
        sa.UniqueConstraint("request_id", name=op.f("uq_usage_events_request_id")),
    )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_events_model_time", ["model_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_usage_events_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index("ix_usage_events_user_time", ["user_id", "occurred_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_events_user_time")
        batch_op.drop_index(batch_op.f("ix_usage_events_occurred_at"))
        batch_op.drop_index("ix_usage_events_model_time")

    op.drop_table("usage_events")
