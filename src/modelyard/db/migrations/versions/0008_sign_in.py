"""Sign-in: OAuth clients, codes, tokens, consents, device codes and signing keys; browser
sessions, failed sign-ins and upstream identities; users' passwords; one scope vocabulary.

API keys' scopes move to the vocabulary shared with OAuth tokens: ``inference`` becomes
``llm.inference`` and ``models.read`` (it listed models too), ``registry:read`` becomes
``registry.read`` and ``registry:write`` ``registry.write``. The downgrade maps them back.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 07:23:54.567154
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from alembic import op

from modelyard.db.types import JSONDoc, UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_failures_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_login_failures_email_normalized"), ["email_normalized"], unique=False
        )

    op.create_table(
        "oauth_signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("private_sealed", sa.String(length=8000), nullable=False),
        sa.Column("public_jwk", JSONDoc, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_oauth_signing_keys")),
    )
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("client_type", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=True),
        sa.Column("secret_prefix", sa.String(length=16), nullable=True),
        sa.Column("redirect_uris", JSONDoc, nullable=False),
        sa.Column("grant_types", JSONDoc, nullable=False),
        sa.Column("scopes", JSONDoc, nullable=False),
        sa.Column("service_user_id", sa.Uuid(), nullable=True),
        sa.Column("skip_consent", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(client_type = 'public' AND secret_hash IS NULL) OR (client_type = 'confidential' AND secret_hash IS NOT NULL)",
            name=op.f("ck_oauth_clients_secret_matches_type"),
        ),
        sa.CheckConstraint(
            "client_type IN ('public', 'confidential')", name=op.f("ck_oauth_clients_client_type")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_oauth_clients_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["service_user_id"],
            ["users.id"],
            name=op.f("fk_oauth_clients_service_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_oauth_clients_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oauth_clients_client_id")),
    )
    op.create_table(
        "user_identities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_identities")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_user_identities_issuer_subject")),
    )
    with op.batch_alter_table("user_identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_identities_user_id"), ["user_id"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "oauth_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("scopes", JSONDoc, nullable=False),
        sa.Column("nonce", sa.String(length=255), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=10), nullable=True),
        sa.Column("auth_time", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["oauth_clients.id"],
            name=op.f("fk_oauth_codes_client_pk_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oauth_codes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oauth_codes_code_hash")),
    )
    with op.batch_alter_table("oauth_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_codes_client_pk"), ["client_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_codes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "oauth_consents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("scopes", JSONDoc, nullable=False),
        sa.Column("granted_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["oauth_clients.id"],
            name=op.f("fk_oauth_consents_client_pk_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oauth_consents_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_consents")),
        sa.UniqueConstraint(
            "user_id", "client_pk", name=op.f("uq_oauth_consents_user_id_client_pk")
        ),
    )
    with op.batch_alter_table("oauth_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_consents_client_pk"), ["client_pk"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_oauth_consents_user_id"), ["user_id"], unique=False)

    op.create_table(
        "oauth_device_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_hash", sa.String(length=64), nullable=False),
        sa.Column("user_code", sa.String(length=16), nullable=False),
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("scopes", JSONDoc, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("last_polled_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'used')",
            name=op.f("ck_oauth_device_codes_status"),
        ),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["oauth_clients.id"],
            name=op.f("fk_oauth_device_codes_client_pk_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oauth_device_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_device_codes")),
        sa.UniqueConstraint("device_hash", name=op.f("uq_oauth_device_codes_device_hash")),
        sa.UniqueConstraint("user_code", name=op.f("uq_oauth_device_codes_user_code")),
    )
    with op.batch_alter_table("oauth_device_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_device_codes_client_pk"), ["client_pk"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_oauth_device_codes_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "oauth_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("access_hash", sa.String(length=64), nullable=False),
        sa.Column("refresh_hash", sa.String(length=64), nullable=True),
        sa.Column("scopes", JSONDoc, nullable=False),
        sa.Column("grant_type", sa.String(length=64), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("access_expires_at", UTCDateTime(), nullable=False),
        sa.Column("refresh_expires_at", UTCDateTime(), nullable=True),
        sa.Column("refreshed_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["oauth_clients.id"],
            name=op.f("fk_oauth_tokens_client_pk_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oauth_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_tokens")),
        sa.UniqueConstraint("access_hash", name=op.f("uq_oauth_tokens_access_hash")),
        sa.UniqueConstraint("refresh_hash", name=op.f("uq_oauth_tokens_refresh_hash")),
    )
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_tokens_access_expires_at"), ["access_expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_oauth_tokens_client_pk"), ["client_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_tokens_family_id"), ["family_id"], unique=False)
        batch_op.create_index("ix_oauth_tokens_user_client", ["user_id", "client_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_tokens_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("password_changed_at", UTCDateTime(), nullable=True))

    _rename_scopes(FORWARD)


# The vocabulary as it stood at this revision (the code's may grow; a migration must not).
FORWARD = {
    "inference": ("llm.inference", "models.read"),
    "registry:read": ("registry.read",),
    "registry:write": ("registry.write",),
}
BACKWARD = {
    "llm.inference": ("inference",),
    "models.read": ("inference",),
    "registry.read": ("registry:read",),
    "credits.read": ("registry:read",),
    "user.info": ("registry:read",),
    "registry.write": ("registry:write",),
}


def _rename_scopes(mapping: Mapping[str, tuple[str, ...]]) -> None:
    keys = sa.table("api_keys", sa.column("id", sa.Uuid()), sa.column("scopes", JSONDoc))
    connection = op.get_bind()
    for key_id, scopes in connection.execute(sa.select(keys.c.id, keys.c.scopes)).all():
        renamed = sorted({new for old in scopes or [] for new in mapping.get(old, (old,))})
        if renamed != scopes:
            connection.execute(keys.update().where(keys.c.id == key_id).values(scopes=renamed))


def downgrade() -> None:
    _rename_scopes(BACKWARD)
    # SQLite's own DROP COLUMN: a batch rebuild of `users` would drop the old table, and with
    # foreign keys on that deletes every row referring to a user (their API keys).
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("password_changed_at")
        batch_op.drop_column("password_hash")

    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_tokens_user_id"))
        batch_op.drop_index("ix_oauth_tokens_user_client")
        batch_op.drop_index(batch_op.f("ix_oauth_tokens_family_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_tokens_client_pk"))
        batch_op.drop_index(batch_op.f("ix_oauth_tokens_access_expires_at"))

    op.drop_table("oauth_tokens")
    with op.batch_alter_table("oauth_device_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_device_codes_expires_at"))
        batch_op.drop_index(batch_op.f("ix_oauth_device_codes_client_pk"))

    op.drop_table("oauth_device_codes")
    with op.batch_alter_table("oauth_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_consents_user_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_consents_client_pk"))

    op.drop_table("oauth_consents")
    with op.batch_alter_table("oauth_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_codes_user_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_codes_client_pk"))

    op.drop_table("oauth_codes")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_expires_at"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("user_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_identities_user_id"))

    op.drop_table("user_identities")
    op.drop_table("oauth_clients")
    op.drop_table("oauth_signing_keys")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_email_normalized"))
        batch_op.drop_index(batch_op.f("ix_login_failures_at"))
        batch_op.drop_index(batch_op.f("ix_login_failures_address"))

    op.drop_table("login_failures")
