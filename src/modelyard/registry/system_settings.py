"""System settings: key -> JSON value, every known key declared with a schema, default and help.

Unknown keys are refused unless namespaced ``custom.``. Model references name a model as
``provider-name/model-id`` and must point at an ACTIVE model of an enabled system provider.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from sqlalchemy import select

from modelyard.db.tables import Model, Provider, SystemSetting
from modelyard.errors import Conflict, NotFound, ValidationFailed, validation_failed
from modelyard.registry.actors import Actor
from modelyard.registry.common import View, jsonable
from modelyard.registry.graphql_settings import INTROSPECTION_KEY, LIMITS_KEY, GraphQLLimits
from modelyard.registry.tx import Database, Tx

CUSTOM_PREFIX = "custom."
MEMBER_CIDRS = "security.member_allowed_private_cidrs"
RETENTION_MONTHS = "usage.retention_months"


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP network in CIDR form (10.0.0.0/8)") from None


Cidrs = list[Annotated[str, AfterValidator(_cidr)]]


def _whole_number(value: Any) -> Any:
    """A JSON integer only: not true/false (which lax int parsing reads as 1/0), not a
    string or a float that happens to hold one."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number, not {type(value).__name__}")
    return value


class RetryPolicy(BaseModel):
    """How the gateway retries rate-limited and failed upstream calls."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_attempts: int = Field(default=4, ge=1, le=10)
    base_delay_ms: int = Field(default=500, ge=0, le=600_000)
    max_delay_ms: int = Field(default=8_000, ge=0, le=600_000)
    jitter: bool = True
    deadline_ms: int = Field(default=60_000, ge=1, le=3_600_000)
    schedule_ms: list[int] | None = Field(
        default=None, description="explicit delays; e.g. [30000, 60000, 90000, 120000]"
    )

    @model_validator(mode="after")
    def _consistent(self) -> RetryPolicy:
        if self.max_delay_ms < self.base_delay_ms:
            raise ValueError("max_delay_ms must not be below base_delay_ms")
        if self.schedule_ms is not None and any(d < 0 for d in self.schedule_ms):
            raise ValueError("schedule_ms delays must not be negative")
        return self


class LoginThrottle(BaseModel):
    """How many failed sign-ins an account and an address get within a window."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    per_account: int = Field(default=5, ge=1, le=1000)
    per_address: int = Field(default=20, ge=1, le=100_000)
    window_s: int = Field(default=900, ge=1, le=86_400)


ModelRef = str | None


@dataclass(frozen=True)
class SettingDef:
    key: str
    type: Any
    default: Any
    help: str
    model_ref: bool = False

    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.type)


KNOWN: dict[str, SettingDef] = {
    d.key: d
    for d in (
        SettingDef(
            "defaults.chat_model",
            ModelRef,
            None,
            "Chat model used when a request names none (provider/model-id).",
            True,
        ),
        SettingDef(
            "defaults.embedding_model",
            ModelRef,
            None,
            "Embedding model used when a request names none (provider/model-id).",
            True,
        ),
        SettingDef(
            "defaults.scenario_expansion_model",
            ModelRef,
            None,
            "Model used for scenario expansion jobs (provider/model-id).",
            True,
        ),
        SettingDef(
            "gateway.retry",
            RetryPolicy,
            RetryPolicy().model_dump(),
            "Retry schedule for rate-limited or failed upstream calls.",
        ),
        SettingDef(
            "billing.require_subscription",
            bool,
            False,
            "Refuse gateway calls (403 NO_SUBSCRIPTION) from users who never had a subscription;"
            " when off, such users pay from their credits if they were ever granted any, else"
            " billing.uncredited_users decides.",
        ),
        SettingDef(
            "billing.uncredited_users",
            Literal["serve", "refuse"],
            "serve",
            "What a gateway call gets from a user with no subscription who was never granted"
            " credits: served unbilled, or refused (402 NO_CREDITS).",
        ),
        SettingDef(
            "billing.credits_per_usd",
            Annotated[Decimal, Field(ge=0, le=1_000_000_000, decimal_places=6)],
            "100",
            "Credits charged per USD of a call's cost when its model's price has no"
            " credits_per_1k (100: a credit is a cent).",
        ),
        SettingDef(
            "billing.unpriced_models",
            Literal["refuse", "flag"],
            "refuse",
            "A call paid in credits to a model with no credit price (no price at all, or a"
            " non-USD price without credits_per_1k): refused (403 MODEL_UNPRICED), or served"
            " free and flagged (usage meta unpriced, metric modelyard_unpriced_calls_total).",
        ),
        SettingDef(
            "billing.worst_case_completion_tokens",
            Annotated[int, Field(ge=1, le=10_000_000)],
            4096,
            "Completion tokens a credit hold covers for a call without max_tokens whose model"
            " has no known max output.",
        ),
        SettingDef(
            "billing.min_completion_tokens",
            Annotated[int, Field(ge=1, le=1_000_000)],
            16,
            "The smallest answer worth sending: a call the balance cannot cover is sent with"
            " max_tokens capped to what it pays for, and refused (402) only below this.",
        ),
        SettingDef(
            "gateway.completion_estimate_tokens",
            Annotated[int, Field(ge=1, le=10_000_000)],
            512,
            "Completion tokens charged to rpm/tpm windows up front for a call without"
            " max_tokens (corrected to what it used when it ends).",
        ),
        SettingDef(
            "models.deprecated_policy",
            Literal["warn", "reject"],
            "warn",
            "What a request for a DEPRECATED model gets: a warning header, or MODEL_DEPRECATED.",
        ),
        SettingDef(
            "gateway.idempotency_ttl_s",
            Annotated[int, Field(ge=1, le=604_800)],
            86_400,
            "Seconds an Idempotency-Key stays used after a call that carried it: a repeat by"
            " the same user within them gets 409 IDEMPOTENCY_KEY_REUSED (1 to 604800).",
        ),
        SettingDef(
            MEMBER_CIDRS,
            Cidrs,
            [],
            "Private networks (CIDR) that members' own providers may reach anyway; by default"
            " they reach public addresses only (no loopback, private, link-local, metadata).",
        ),
        SettingDef(
            "responses.retention_days",
            Annotated[int, Field(ge=1, le=3650)],
            30,
            "Days a stored /v1/responses answer is kept for previous_response_id and GET"
            " /v1/responses/{id} before it is deleted (1 to 3650).",
        ),
        SettingDef(
            RETENTION_MONTHS,
            Annotated[int, BeforeValidator(_whole_number), Field(ge=1, le=1200)] | None,
            None,
            "Months of calls kept in usage_events on PostgreSQL besides the current one (1 to"
            " 1200; null: forever); older months are dropped once their daily roll-ups are"
            " checked. SQLite keeps every call.",
        ),
        SettingDef(
            "auth.access_token_ttl_s",
            Annotated[int, Field(ge=60, le=86_400)],
            3600,
            "Seconds an OAuth access token (and an ID token) is valid (60 to 86400).",
        ),
        SettingDef(
            "auth.refresh_token_ttl_s",
            Annotated[int, Field(ge=300, le=31_536_000)],
            2_592_000,
            "Seconds an OAuth refresh token stays usable after it is issued; each refresh"
            " issues a new one (300 to 31536000).",
        ),
        SettingDef(
            "auth.code_ttl_s",
            Annotated[int, Field(ge=10, le=600)],
            120,
            "Seconds an OAuth authorization code may be exchanged for tokens (10 to 600).",
        ),
        SettingDef(
            "auth.device_code_ttl_s",
            Annotated[int, Field(ge=60, le=3600)],
            900,
            "Seconds a device code (RFC 8628 device sign-in) waits for its user's approval"
            " before the device must start again (60 to 3600).",
        ),
        SettingDef(
            "gateway.fallback_to_active_provider",
            bool,
            True,
            "Try the active system provider last when every other choice fails.",
        ),
        SettingDef(
            "auth.session_ttl_s",
            Annotated[int, Field(ge=60, le=31_536_000)],
            43_200,
            "Seconds a browser stays signed in after signing in with a password (60 to 31536000).",
        ),
        SettingDef(
            "auth.login_throttle",
            LoginThrottle,
            LoginThrottle().model_dump(),
            "Failed sign-ins allowed per account and per address within window_s seconds;"
            " beyond them sign-in is refused (429) until the oldest failure leaves the window.",
        ),
        SettingDef(
            INTROSPECTION_KEY,
            bool,
            True,
            "Answer introspection (__schema, __type) on /graphql; off, such documents are"
            " refused (GRAPHQL_INTROSPECTION_DISABLED) and GraphiQL cannot read the schema.",
        ),
        SettingDef(
            LIMITS_KEY,
            GraphQLLimits,
            GraphQLLimits().model_dump(),
            "What one /graphql request may ask for: depth, cost, aliases, tokens, body bytes;"
            " a document over any of them is refused before it runs.",
        ),
    )
}


class SettingView(View):
    key: str
    value: Any
    default: Any
    is_set: bool
    help: str


class SystemSettings:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, actor: Actor) -> list[SettingView]:
        async with self.db.read(actor) as tx:
            stored = {s.key: s.value for s in await tx.session.scalars(select(SystemSetting))}
        keys = sorted(set(KNOWN) | set(stored))
        return [_view(k, stored.get(k), k in stored) for k in keys]

    async def get(self, actor: Actor, key: str) -> SettingView:
        definition(key)
        async with self.db.read(actor) as tx:
            row = await tx.session.get(SystemSetting, key)
        if row is None and key not in KNOWN:
            raise NotFound(f"setting {key!r} is not set", code="SETTING_NOT_FOUND")
        return _view(key, row.value if row else None, row is not None)

    async def set(self, actor: Actor, key: str, value: Any) -> SettingView:
        actor.require_admin("change system settings")
        normalised = validate_value(key, value)
        async with self.db.write(actor) as tx:
            if KNOWN.get(key) and KNOWN[key].model_ref and normalised is not None:
                await check_model_ref(tx, key, normalised)
            row = await tx.session.get(SystemSetting, key)
            before = row.value if row else None
            if row is None:
                row = SystemSetting(key=key, value=normalised, updated_at=tx.now)
                tx.session.add(row)
            row.value = normalised
            row.updated_by = actor.user_id
            row.updated_at = tx.now
            await tx.record(
                "setting.set", "setting", key, before=jsonable(before), after=jsonable(normalised)
            )
        return _view(key, normalised, True)

    async def unset(self, actor: Actor, key: str) -> SettingView:
        actor.require_admin("change system settings")
        definition(key)
        async with self.db.write(actor) as tx:
            row = await tx.session.get(SystemSetting, key)
            if row is None:
                raise Conflict(f"setting {key!r} is not set", code="SETTING_NOT_SET")
            before = row.value
            await tx.session.delete(row)
            await tx.record("setting.unset", "setting", key, before=jsonable(before))
        return _view(key, None, False)


def definition(key: str) -> SettingDef | None:
    if key in KNOWN:
        return KNOWN[key]
    if key.startswith(CUSTOM_PREFIX) and len(key) > len(CUSTOM_PREFIX):
        return None
    raise ValidationFailed.at(
        "key", f"{key!r} is not a known setting; known: {sorted(KNOWN)} (or use custom.<name>)"
    )


def validate_value(key: str, value: Any) -> Any:
    found = definition(key)
    if found is None:
        try:  # what the audit event hashes and the database stores
            orjson.dumps(value)
        except TypeError as exc:  # an integer beyond 64 bits; nothing else JSON reads
            raise ValidationFailed.at(f"value[{key}]", f"cannot be stored: {exc}") from None
        return value
    try:
        parsed = found.adapter().validate_python(value, strict=False)
    except ValidationError as exc:
        raise validation_failed(exc, prefix=f"value[{key}]") from None
    return found.adapter().dump_python(parsed, mode="json")


async def setting_value(tx: Tx, key: str) -> Any:
    """A known setting's value in ``tx``: stored, else its default (as stored: JSON)."""
    row = await tx.session.get(SystemSetting, key)
    return KNOWN[key].default if row is None else row.value


async def check_model_ref(tx: Tx, key: str, ref: str) -> None:
    provider_name, sep, model_id = ref.partition("/")
    if not sep or not model_id:
        raise ValidationFailed.at(f"value[{key}]", "must look like 'provider-name/model-id'")
    row = (
        await tx.session.execute(
            select(Model, Provider)
            .join(Provider, Provider.id == Model.provider_id)
            .where(
                Provider.owner_user_id.is_(None),
                Provider.name == provider_name,
                Model.model_id == model_id,
            )
        )
    ).first()
    if row is None:
        raise ValidationFailed.at(f"value[{key}]", f"no system model {ref!r}")
    if row[0].status != "ACTIVE":
        raise Conflict(
            f"model {ref!r} is deprecated and cannot be a default", code="MODEL_DEPRECATED"
        )
    if not row[1].enabled:
        raise Conflict(f"provider {provider_name!r} is disabled", code="PROVIDER_DISABLED")


def _view(key: str, value: Any, is_set: bool) -> SettingView:
    found = KNOWN.get(key)
    default = found.default if found else None
    return SettingView(
        key=key,
        value=value if is_set else default,
        default=default,
        is_set=is_set,
        help=found.help if found else "custom setting",
    )
