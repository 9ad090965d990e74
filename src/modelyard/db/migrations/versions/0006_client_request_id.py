"""The caller's own request id on usage rows: a correlation field, never unique.

A usage row is keyed by the request id the server makes (``usage_events.request_id``, unique);
the id a caller sends (``x-client-request-id`` or ``x-request-id``) is kept beside it, indexed
so that usage can be filtered by it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_request_id", sa.String(length=100), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_usage_events_client_request_id"), ["client_request_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_events_client_request_id"))
        batch_op.drop_column("client_request_id")
