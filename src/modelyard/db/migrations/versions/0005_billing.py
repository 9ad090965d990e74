"""Billing: plans (free, pro and enterprise seeded), subscriptions, credit grants, the
append-only credit ledger, and the gateway's credit holds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 16:17:59.490884
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import modelyard.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("monthly_credits", modelyard.db.types.Credits(), nullable=False),
        sa.Column("rollover", sa.String(length=8), nullable=False),
        sa.Column("rollover_cap", modelyard.db.types.Credits(), nullable=True),
        sa.Column("rpm_limit", sa.Integer(), nullable=True),
        sa.Column("tpm_limit", sa.Integer(), nullable=True),
        sa.Column("max_parallel", sa.Integer(), nullable=True),
        sa.Column(
            "allowed_models",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "allowed_capabilities",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rollover <> 'capped' OR rollover_cap IS NOT NULL", name=op.f("ck_plans_cap_set")
        ),
        sa.CheckConstraint(
            "rollover IN ('none', 'capped', 'full')", name=op.f("ck_plans_rollover")
        ),
        sa.CheckConstraint("monthly_credits >= 0", name=op.f("ck_plans_credits_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("name", name=op.f("uq_plans_name")),
    )
    op.create_table(
        "credit_holds",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("amount", modelyard.db.types.Credits(), nullable=False),
        sa.Column("expires_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_credit_holds_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "holder", name=op.f("pk_credit_holds")),
    )
    with op.batch_alter_table("credit_holds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_holds_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("period_anchor", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "current_period_start", modelyard.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "current_period_end", modelyard.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=200), nullable=True),
        sa.Column("external_subscription_id", sa.String(length=200), nullable=True),
        sa.Column("ended_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled', 'expired', 'suspended')",
            name=op.f("ck_subscriptions_status"),
        ),
        sa.CheckConstraint(
            "current_period_end > current_period_start", name=op.f("ck_subscriptions_period")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_subscriptions_plan_id_plans"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_subscriptions_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriptions_due", ["status", "current_period_end"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_subscriptions_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_subscriptions_current_user",
            ["user_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('active', 'suspended')"),
            postgresql_where=sa.text("status IN ('active', 'suspended')"),
        )

    op.create_table(
        "credit_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("amount", modelyard.db.types.Credits(), nullable=False),
        sa.Column("period_start", modelyard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('plan', 'purchase', 'adjustment', 'rollover')",
            name=op.f("ck_credit_grants_source"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_grants_amount_positive")),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_credit_grants_subscription_id_subscriptions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_credit_grants_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_grants")),
        sa.UniqueConstraint("ref", name=op.f("uq_credit_grants_ref")),
    )
    with op.batch_alter_table("credit_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credit_grants_user_id"), ["user_id"], unique=False)

    op.create_table(
        "credit_ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", modelyard.db.types.Credits(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=True),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('grant', 'usage', 'expiry', 'adjustment')", name=op.f("ck_credit_ledger_kind")
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["credit_grants.id"],
            name=op.f("fk_credit_ledger_grant_id_credit_grants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_credit_ledger_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_ledger")),
    )
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_ledger_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index("ix_credit_ledger_user_grant", ["user_id", "grant_id"], unique=False)

    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("charged_credits", modelyard.db.types.Credits(), nullable=True)
        )
    _append_only()
    _seed_plans()


# The ledger is append-only on both engines: corrections are new rows, never edits.
APPEND_ONLY_PG = [
    """CREATE FUNCTION credit_ledger_reject_change() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION 'credit_ledger is append-only';
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER credit_ledger_append_only BEFORE UPDATE OR DELETE ON credit_ledger
    FOR EACH ROW EXECUTE FUNCTION credit_ledger_reject_change()""",
    """CREATE TRIGGER credit_ledger_no_truncate BEFORE TRUNCATE ON credit_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION credit_ledger_reject_change()""",
]
APPEND_ONLY_SQLITE = [
    """CREATE TRIGGER credit_ledger_no_update BEFORE UPDATE ON credit_ledger
    BEGIN SELECT RAISE(ABORT, 'credit_ledger is append-only'); END""",
    """CREATE TRIGGER credit_ledger_no_delete BEFORE DELETE ON credit_ledger
    BEGIN SELECT RAISE(ABORT, 'credit_ledger is append-only'); END""",
]


def _append_only() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in APPEND_ONLY_PG if postgres else APPEND_ONLY_SQLITE:
        op.execute(statement)


def _seed_plans() -> None:
    plans = sa.table(
        "plans",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("display_name", sa.String()),
        sa.column("monthly_credits", modelyard.db.types.Credits()),
        sa.column("rollover", sa.String()),
        sa.column("rollover_cap", modelyard.db.types.Credits()),
        sa.column("rpm_limit", sa.Integer()),
        sa.column("tpm_limit", sa.Integer()),
        sa.column("max_parallel", sa.Integer()),
        sa.column("active", sa.Boolean()),
        sa.column("created_at", modelyard.db.types.UTCDateTime()),
        sa.column("updated_at", modelyard.db.types.UTCDateTime()),
    )
    now = datetime.now(UTC)
    seeded = [
        ("free", "Free", "100", "none", None, 20, 40_000, 2),
        ("pro", "Pro", "10000", "capped", "5000", 600, 1_000_000, 16),
        ("enterprise", "Enterprise", "100000", "full", None, None, None, None),
    ]
    op.bulk_insert(
        plans,
        [
            {
                "id": uuid.uuid4(),
                "name": name,
                "display_name": display,
                "monthly_credits": Decimal(credits),
                "rollover": rollover,
                "rollover_cap": None if cap is None else Decimal(cap),
                "rpm_limit": rpm,
                "tpm_limit": tpm,
                "max_parallel": parallel,
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for name, display, credits, rollover, cap, rpm, tpm, parallel in seeded
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_column("charged_credits")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS credit_ledger_reject_change() CASCADE")
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_ledger_user_grant")
        batch_op.drop_index(batch_op.f("ix_credit_ledger_request_id"))

    op.drop_table("credit_ledger")
    with op.batch_alter_table("credit_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_grants_user_id"))

    op.drop_table("credit_grants")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_subscriptions_current_user",
            sqlite_where=sa.text("status IN ('active', 'suspended')"),
            postgresql_where=sa.text("status IN ('active', 'suspended')"),
        )
        batch_op.drop_index(batch_op.f("ix_subscriptions_user_id"))
        batch_op.drop_index("ix_subscriptions_due")

    op.drop_table("subscriptions")
    with op.batch_alter_table("credit_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_holds_expires_at"))

    op.drop_table("credit_holds")
    op.drop_table("plans")
