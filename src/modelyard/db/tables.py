"""ORM tables of the registry.

Invariants the database can hold live here: foreign keys with their cascades, check
constraints, and partial unique indexes for "one default per owner", "one active provider",
"one system default model" and "names unique per owner" (a plain unique index would let any
number of system rows share a name, since NULL owners never collide).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from modelyard.db.types import Credits, JSONDoc, Money, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow)


def _user_ref(nullable: bool = True) -> Mapped[uuid.UUID | None]:
    return mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=nullable)


class RegistryState(Base):
    """One row: the configuration generation, bumped by every committed registry change."""

    __tablename__ = "registry_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'member')", name="role"),
        CheckConstraint("status IN ('active', 'suspended')", name="status"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    email: Mapped[str] = mapped_column(String(320))
    email_normalized: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="member")
    status: Mapped[str] = mapped_column(String(16), default="active")
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    rpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # argon2id
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONDoc)
    rpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = _created()


class Provider(Base):
    __tablename__ = "providers"
    __table_args__ = (
        CheckConstraint(
            "NOT is_active OR (enabled AND owner_user_id IS NULL)", name="active_is_system"
        ),
        CheckConstraint("timeout_ms > 0", name="timeout_positive"),
        Index(
            "uq_providers_system_name",
            "name",
            unique=True,
            sqlite_where=text("owner_user_id IS NULL"),
            postgresql_where=text("owner_user_id IS NULL"),
        ),
        Index(
            "uq_providers_owner_name",
            "owner_user_id",
            "name",
            unique=True,
            sqlite_where=text("owner_user_id IS NOT NULL"),
            postgresql_where=text("owner_user_id IS NOT NULL"),
        ),
        Index(
            "uq_providers_system_default",
            "is_default",
            unique=True,
            sqlite_where=text("is_default AND owner_user_id IS NULL"),
            postgresql_where=text("is_default AND owner_user_id IS NULL"),
        ),
        Index(
            "uq_providers_owner_default",
            "owner_user_id",
            unique=True,
            sqlite_where=text("is_default AND owner_user_id IS NOT NULL"),
            postgresql_where=text("is_default AND owner_user_id IS NOT NULL"),
        ),
        Index(
            "uq_providers_active",
            "is_active",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    owner_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    base_url: Mapped[str] = mapped_column(String(500))
    api_key_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    api_key_hint: Mapped[str | None] = mapped_column(String(32), nullable=True)
    organization: Mapped[str | None] = mapped_column(String(200), nullable=True)
    custom_headers: Mapped[dict[str, str]] = mapped_column(JSONDoc, default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    timeout_ms: Mapped[int] = mapped_column(Integer, default=60_000)
    max_parallel: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    weight: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    config_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[uuid.UUID | None] = _user_ref()
    updated_by: Mapped[uuid.UUID | None] = _user_ref()
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("provider_id", "model_id"),
        CheckConstraint("status IN ('ACTIVE', 'DEPRECATED')", name="status"),
        CheckConstraint("NOT is_default OR status = 'ACTIVE'", name="default_is_active"),
        Index(
            "uq_models_system_default",
            "is_default",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    provider_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    model_id: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(200))
    context_window: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_output_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    capabilities: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    fallbacks: Mapped[list[str]] = mapped_column(JSONDoc, default=list, server_default="[]")
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    config_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[uuid.UUID | None] = _user_ref()
    updated_by: Mapped[uuid.UUID | None] = _user_ref()
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class ModelPrice(Base):
    """One effective-dated price of a model; a change appends a row, nothing is overwritten."""

    __tablename__ = "model_prices"
    __table_args__ = (UniqueConstraint("model_id", "effective_from"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    input_per_mtok: Mapped[Decimal] = mapped_column(Money())
    output_per_mtok: Mapped[Decimal] = mapped_column(Money())
    cached_input_per_mtok: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    # Prompt tokens written to a provider's prompt cache (Anthropic's cache_creation tokens).
    cache_write_per_mtok: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    credits_per_1k: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[uuid.UUID | None] = _user_ref()
    created_at: Mapped[datetime] = _created()


class SystemSetting(Base):
    __tablename__ = "system_settings"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONDoc)
    updated_by: Mapped[uuid.UUID | None] = _user_ref()
    updated_at: Mapped[datetime] = _created()


class UserPreference(Base):
    __tablename__ = "user_preferences"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    default_model_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("models.id", ondelete="SET NULL"), nullable=True
    )
    temperature: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    streaming: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = _created()


class AuditEvent(Base):
    """Append-only, hash-chained record of every configuration change."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor_label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[Any] = mapped_column(JSONDoc, nullable=True)
    after: Mapped[Any] = mapped_column(JSONDoc, nullable=True)
    config_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class UsageEvent(Base):
    """One row per gateway call (seed 003's usage_history), idempotent by request id, with
    the price it was charged at and the cost modelyard computed from it.

    The keys here are SQLite's. On PostgreSQL the table is partitioned by month on
    ``occurred_at`` (migration 0010, :mod:`modelyard.db.partitions`) and its keys hold the
    partition key: ``(id, occurred_at)`` and ``(request_id, occurred_at)``."""

    __tablename__ = "usage_events"
    __table_args__ = (
        CheckConstraint(
            "operation IN ('chat', 'completion', 'embedding', 'function_call')", name="operation"
        ),
        CheckConstraint("status IN ('ok', 'error', 'aborted')", name="status"),
        Index("ix_usage_events_user_time", "user_id", "occurred_at"),
        Index("ix_usage_events_model_time", "model_id", "occurred_at"),
        # Reports at scale (migration 0011): pages in (occurred_at, id) order, and a page or
        # a count filtered on a model's or provider's name or on the status.
        Index("ix_usage_events_time_id", "occurred_at", "id"),
        Index("ix_usage_events_model_name_time", "model_name", "occurred_at"),
        Index("ix_usage_events_provider_name_time", "provider_name", "occurred_at"),
        Index("ix_usage_events_status_time", "status", "occurred_at"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    request_id: Mapped[str] = mapped_column(String(100), unique=True)  # made by the server
    # The caller's own id (x-client-request-id / x-request-id): correlation only, not unique.
    client_request_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())  # ix_usage_events_time_id
    user_id: Mapped[uuid.UUID | None] = _user_ref()
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True
    )
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("providers.id", ondelete="SET NULL"), nullable=True
    )
    model_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("models.id", ondelete="SET NULL"), nullable=True
    )
    provider_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    operation: Mapped[str] = mapped_column(String(20))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    ttft_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    price_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("model_prices.id", ondelete="SET NULL"), nullable=True
    )
    input_per_mtok: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    output_per_mtok: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    cached_input_per_mtok: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    cache_write_per_mtok: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    cost: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    credits: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    # What the credit ledger was debited for this call (None: the user is not billed).
    charged_credits: Mapped[Decimal | None] = mapped_column(Credits(), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONDoc, default=dict)


class StoredResponse(Base):
    """A Responses API answer kept for ``previous_response_id`` and ``GET /v1/responses/{id}``:
    the request's input items and the response object, per user, until ``expires_at``."""

    __tablename__ = "stored_responses"
    __table_args__ = (Index("ix_stored_responses_user_time", "user_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # resp_...
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True
    )
    previous_response_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model: Mapped[str] = mapped_column(String(200))
    request: Mapped[Any] = mapped_column(JSONDoc)  # instructions and input items, as sent
    response: Mapped[Any] = mapped_column(JSONDoc)  # the response object, as answered
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


# --- billing: plans, subscriptions, credit grants, the credit ledger, gateway holds ---------


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("rollover IN ('none', 'capped', 'full')", name="rollover"),
        CheckConstraint("rollover <> 'capped' OR rollover_cap IS NOT NULL", name="cap_set"),
        CheckConstraint("monthly_credits >= 0", name="credits_not_negative"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    monthly_credits: Mapped[Decimal] = mapped_column(Credits())
    rollover: Mapped[str] = mapped_column(String(8), default="none")
    rollover_cap: Mapped[Decimal | None] = mapped_column(Credits(), nullable=True)
    rpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_parallel: Mapped[int | None] = mapped_column(Integer, nullable=True)
    allowed_models: Mapped[list[str] | None] = mapped_column(JSONDoc, nullable=True)
    allowed_capabilities: Mapped[list[str] | None] = mapped_column(JSONDoc, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class Subscription(Base):
    """A user's plan over time. At most one current (active or suspended) per user."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'cancelled', 'expired', 'suspended')", name="status"),
        CheckConstraint("current_period_end > current_period_start", name="period"),
        Index(
            "uq_subscriptions_current_user",
            "user_id",
            unique=True,
            sqlite_where=text("status IN ('active', 'suspended')"),
            postgresql_where=text("status IN ('active', 'suspended')"),
        ),
        Index("ix_subscriptions_due", "status", "current_period_end"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    period_anchor: Mapped[datetime] = mapped_column(UTCDateTime())  # periods count from here
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    external_customer_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    external_subscription_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class CreditGrant(Base):
    """Credits given to a user: by their plan each period, bought, granted by an admin or
    rolled over. Never changed; what is left of it is the sum of its ledger rows."""

    __tablename__ = "credit_grants"
    __table_args__ = (
        CheckConstraint("source IN ('plan', 'purchase', 'adjustment', 'rollover')", name="source"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="RESTRICT"), nullable=True
    )
    source: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Credits())
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ref: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = _created()


class CreditEntry(Base):
    """The credit ledger, append-only: a user's balance is the sum of their rows."""

    __tablename__ = "credit_ledger"
    __table_args__ = (
        CheckConstraint("kind IN ('grant', 'usage', 'expiry', 'adjustment')", name="kind"),
        Index("ix_credit_ledger_user_grant", "user_id", "grant_id"),
    )
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Credits())
    grant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("credit_grants.id", ondelete="RESTRICT"), nullable=True
    )
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")


class CreditHold(Base):
    """Credits a gateway process has set aside for calls in flight (not in the ledger): what
    any process may newly reserve is the balance minus every unexpired hold."""

    __tablename__ = "credit_holds"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str] = mapped_column(String(64), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Credits())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


# Sign-in's tables and the usage roll-ups live in their own modules; importing them here
# registers them on Base.
from modelyard.db import auth_tables as _auth_tables  # noqa: E402, F401
from modelyard.db import rollup_tables as _rollup_tables  # noqa: E402, F401
