"""Stored Responses API answers, and prompt-cache writes on prices and usage rows.

``stored_responses`` keeps a Responses API answer (its input items and the response object)
per user for ``previous_response_id`` and ``GET /v1/responses/{id}``, until it expires.
``cache_write_tokens`` (usage) and ``cache_write_per_mtok`` (prices, and the price copied
onto each usage row) charge the prompt tokens a provider wrote to its prompt cache.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 04:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from modelyard.db.types import JSONDoc, Money, UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stored_responses",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("previous_response_id", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("request", JSONDoc, nullable=False),
        sa.Column("response", JSONDoc, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_stored_responses_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_stored_responses_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_responses")),
    )
    op.create_index("ix_stored_responses_user_time", "stored_responses", ["user_id", "created_at"])
    op.create_index(op.f("ix_stored_responses_expires_at"), "stored_responses", ["expires_at"])
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cache_write_tokens", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("cache_write_per_mtok", Money(), nullable=True))
    with op.batch_alter_table("model_prices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cache_write_per_mtok", Money(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_prices", schema=None) as batch_op:
        batch_op.drop_column("cache_write_per_mtok")
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_column("cache_write_per_mtok")
        batch_op.drop_column("cache_write_tokens")
    op.drop_index(op.f("ix_stored_responses_expires_at"), table_name="stored_responses")
    op.drop_index("ix_stored_responses_user_time", table_name="stored_responses")
    op.drop_table("stored_responses")
