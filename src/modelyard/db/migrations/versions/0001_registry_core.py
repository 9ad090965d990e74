"""Registry core: users, api keys, providers, models, prices, settings, preferences, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 12:01:23.802878
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import modelyard.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# audit_events is append-only: the database itself refuses to change or remove an event.
AUDIT_APPEND_ONLY = (
    """CREATE FUNCTION audit_events_reject_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_reject_change()""",
    """CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_reject_change()""",
)


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("occurred_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("actor_label", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column(
            "before",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "after",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("config_version", sa.Integer(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_events_hash")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_entity", ["entity_type", "entity_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_occurred_at"), ["occurred_at"], unique=False
        )

    op.create_table(
        "registry_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_state")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'member')", name=op.f("ck_users_role")),
        sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f("ck_users_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email_normalized", name=op.f("uq_users_email_normalized")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("expires_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "providers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_user_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("api_key_sealed", sa.Text(), nullable=True),
        sa.Column("api_key_hint", sa.String(length=32), nullable=True),
        sa.Column("organization", sa.String(length=200), nullable=True),
        sa.Column(
            "custom_headers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("timeout_ms", sa.Integer(), nullable=False),
        sa.Column("max_parallel", sa.Integer(), nullable=True),
        sa.Column("rpm_limit", sa.Integer(), nullable=True),
        sa.Column("tpm_limit", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "NOT is_active OR (enabled AND owner_user_id IS NULL)",
            name=op.f("ck_providers_active_is_system"),
        ),
        sa.CheckConstraint("timeout_ms > 0", name=op.f("ck_providers_timeout_positive")),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_providers_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["users.id"],
            name=op.f("fk_providers_owner_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_providers_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
    )
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_providers_owner_user_id"), ["owner_user_id"], unique=False
        )
        batch_op.create_index(
            "uq_providers_active",
            ["is_active"],
            unique=True,
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        )
        batch_op.create_index(
            "uq_providers_owner_default",
            ["owner_user_id"],
            unique=True,
            sqlite_where=sa.text("is_default AND owner_user_id IS NOT NULL"),
            postgresql_where=sa.text("is_default AND owner_user_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_providers_owner_name",
            ["owner_user_id", "name"],
            unique=True,
            sqlite_where=sa.text("owner_user_id IS NOT NULL"),
            postgresql_where=sa.text("owner_user_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_providers_system_default",
            ["is_default"],
            unique=True,
            sqlite_where=sa.text("is_default AND owner_user_id IS NULL"),
            postgresql_where=sa.text("is_default AND owner_user_id IS NULL"),
        )
        batch_op.create_index(
            "uq_providers_system_name",
            ["name"],
            unique=True,
            sqlite_where=sa.text("owner_user_id IS NULL"),
            postgresql_where=sa.text("owner_user_id IS NULL"),
        )

    op.create_table(
        "system_settings",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_system_settings_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_system_settings")),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("context_window", sa.Integer(), nullable=True),
        sa.Column("max_output_tokens", sa.Integer(), nullable=True),
        sa.Column(
            "capabilities",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "NOT is_default OR status = 'ACTIVE'", name=op.f("ck_models_default_is_active")
        ),
        sa.CheckConstraint("status IN ('ACTIVE', 'DEPRECATED')", name=op.f("ck_models_status")),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_models_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_models_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_models_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("provider_id", "model_id", name=op.f("uq_models_provider_id_model_id")),
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_models_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(
            "uq_models_system_default",
            ["is_default"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )

    op.create_table(
        "model_prices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column(
            "input_per_mtok", modelyard.db.types.Money(precision=20, scale=10), nullable=False
        ),
        sa.Column(
            "output_per_mtok", modelyard.db.types.Money(precision=20, scale=10), nullable=False
        ),
        sa.Column(
            "cached_input_per_mtok", modelyard.db.types.Money(precision=20, scale=10), nullable=True
        ),
        sa.Column(
            "credits_per_1k", modelyard.db.types.Money(precision=20, scale=10), nullable=True
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_from", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_model_prices_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.id"],
            name=op.f("fk_model_prices_model_id_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_prices")),
        sa.UniqueConstraint(
            "model_id", "effective_from", name=op.f("uq_model_prices_model_id_effective_from")
        ),
    )
    op.create_table(
        "user_preferences",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("default_model_id", sa.Uuid(), nullable=True),
        sa.Column("temperature", modelyard.db.types.Money(precision=20, scale=10), nullable=True),
        sa.Column("streaming", sa.Boolean(), nullable=False),
        sa.Column("updated_at", modelyard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["default_model_id"],
            ["models.id"],
            name=op.f("fk_user_preferences_default_model_id_models"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_preferences")),
    )
    op.bulk_insert(
        sa.table(
            "registry_state", sa.column("id", sa.Integer), sa.column("generation", sa.BigInteger)
        ),
        [{"id": 1, "generation": 0}],
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in AUDIT_APPEND_ONLY:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_events_reject_change() CASCADE")
    op.drop_table("user_preferences")
    op.drop_table("model_prices")
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_models_system_default",
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
        batch_op.drop_index(batch_op.f("ix_models_provider_id"))

    op.drop_table("models")
    op.drop_table("system_settings")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_providers_system_name",
            sqlite_where=sa.text("owner_user_id IS NULL"),
            postgresql_where=sa.text("owner_user_id IS NULL"),
        )
        batch_op.drop_index(
            "uq_providers_system_default",
            sqlite_where=sa.text("is_default AND owner_user_id IS NULL"),
            postgresql_where=sa.text("is_default AND owner_user_id IS NULL"),
        )
        batch_op.drop_index(
            "uq_providers_owner_name",
            sqlite_where=sa.text("owner_user_id IS NOT NULL"),
            postgresql_where=sa.text("owner_user_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_providers_owner_default",
            sqlite_where=sa.text("is_default AND owner_user_id IS NOT NULL"),
            postgresql_where=sa.text("is_default AND owner_user_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_providers_active",
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        )
        batch_op.drop_index(batch_op.f("ix_providers_owner_user_id"))

    op.drop_table("providers")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))

    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("registry_state")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_occurred_at"))
        batch_op.drop_index("ix_audit_events_entity")

    op.drop_table("audit_events")
