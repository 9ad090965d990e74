"""The gateway's in-memory view of the registry: keys, users, providers (with their opened
API keys), models, prices, settings and preferences — everything a request needs, so that
serving one touches no database.

A :class:`Snapshot` is immutable and built in one read transaction
(:mod:`modelyard.gateway.snapshot_load`); :class:`SnapshotHolder`
swaps in a new one when the registry's configuration generation moves (checked every
``refresh_interval_s``, one tiny query), and keeps serving the last good one while the
database is unreachable: a valid key never gets a 401 because the database is down.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, NamedTuple

from modelyard.adapters.base import Target
from modelyard.adapters.reach import Network
from modelyard.billing.pricing import Rate, rate_of
from modelyard.errors import Unauthenticated
from modelyard.registry.system_settings import RetryPolicy

log = logging.getLogger("modelyard.gateway")


@dataclass(frozen=True, slots=True)
class KeyEntry:
    key_id: uuid.UUID | None  # None for in-process calls and OAuth access tokens
    user_id: uuid.UUID
    role: str
    scopes: frozenset[str]
    expires_at: datetime | None
    rpm_limit: int | None = None  # of this key
    tpm_limit: int | None = None
    user_rpm_limit: int | None = None  # of its user, across all their keys
    user_tpm_limit: int | None = None
    key_name: str = ""  # how limit messages name the key (with its display prefix)
    key_prefix: str = ""
    client_id: str | None = None  # an OAuth access token's client (gateway/tokens.py)


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    id: uuid.UUID
    name: str
    owner: uuid.UUID | None
    kind: str
    enabled: bool
    is_default: bool
    is_active: bool
    base_url: str
    api_key: str | None = field(repr=False)
    usable: bool  # False when its sealed key could not be opened
    organization: str | None
    headers: dict[str, str]
    config: dict[str, Any]
    timeout_s: float
    max_parallel: int | None
    rpm_limit: int | None
    tpm_limit: int | None
    weight: int = 1
    # None: reaches any address (a system or admin's provider); else a member's provider,
    # which reaches public addresses and these private networks only (adapters/reach.py)
    member_reach: tuple[Network, ...] | None = None

    def target(self, model_id: str) -> Target:
        return Target(
            provider_id=str(self.id),
            provider_name=self.name,
            kind=self.kind,
            base_url=self.base_url,
            api_key=self.api_key,
            model_id=model_id,
            organization=self.organization,
            headers=self.headers,
            config=self.config,
            timeout_s=self.timeout_s,
        )


class Unreadable(NamedTuple):
    """A provider whose sealed API key this server cannot open (it is unusable here)."""

    name: str
    owner: uuid.UUID | None
    reason: str  # names the master key id it needs, never secret material


class Uninstalled(NamedTuple):
    """A provider left out of the snapshot because its kind's plug-in is not installed."""

    name: str
    owner: uuid.UUID | None
    kind: str


@dataclass(frozen=True, slots=True)
class ModelEntry:
    id: uuid.UUID
    provider_id: uuid.UUID
    model_id: str
    display_name: str
    context_window: int | None
    max_output_tokens: int | None
    capabilities: frozenset[str]
    status: str
    is_default: bool
    created_at: datetime
    fallbacks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PriceEntry:
    id: uuid.UUID
    effective_from: datetime
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None
    credits_per_1k: Decimal | None
    currency: str
    cache_write_per_mtok: Decimal | None = None


def _effective_from(price: PriceEntry) -> datetime:
    return price.effective_from


@dataclass(frozen=True, slots=True)
class Billing:
    """A user's latest subscription and its plan, as the gateway enforces them."""

    subscription_id: uuid.UUID
    status: str  # active | suspended | cancelled | expired
    plan: str
    rpm_limit: int | None
    tpm_limit: int | None
    max_parallel: int | None
    allowed_models: frozenset[str] | None
    allowed_capabilities: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class CreditRules:
    """The ``billing.*`` settings a call is paid by, read once per snapshot
    (``docs/billing.md``)."""

    credits_per_usd: Decimal
    uncredited_users: str  # serve | refuse
    unpriced_models: str  # refuse | flag
    worst_case_completion: int  # a hold's completion tokens without max_tokens or max output
    min_completion: int  # the smallest answer a capped call is still sent with
    estimate_completion: int  # completion tokens charged to rate windows without max_tokens

    @classmethod
    def of(cls, settings: dict[str, Any]) -> CreditRules:
        return cls(
            Decimal(str(settings["billing.credits_per_usd"])),
            settings["billing.uncredited_users"],
            settings["billing.unpriced_models"],
            int(settings["billing.worst_case_completion_tokens"]),
            int(settings["billing.min_completion_tokens"]),
            int(settings["gateway.completion_estimate_tokens"]),
        )


@dataclass(frozen=True, slots=True)
class Preference:
    default_model_id: uuid.UUID | None
    temperature: Decimal | None
    streaming: bool


@dataclass(frozen=True)
class Snapshot:
    generation: int
    keys: dict[str, KeyEntry]
    providers: dict[uuid.UUID, ProviderEntry]
    models: dict[uuid.UUID, ModelEntry]
    by_model_id: dict[str, tuple[ModelEntry, ...]]
    prices: dict[uuid.UUID, tuple[PriceEntry, ...]]
    settings: dict[str, Any]
    preferences: dict[uuid.UUID, Preference]
    billing: dict[uuid.UUID, Billing] = field(default_factory=dict)
    uninstalled: dict[uuid.UUID, Uninstalled] = field(default_factory=dict)
    unreadable: dict[uuid.UUID, Unreadable] = field(default_factory=dict)
    credited: frozenset[uuid.UUID] = frozenset()  # users ever granted credits: they pay

    @cached_property
    def credit_rules(self) -> CreditRules:
        return CreditRules.of(self.settings)

    def rate_at(self, model: uuid.UUID, when: datetime) -> tuple[PriceEntry | None, Rate | None]:
        """The price in force and what its tokens cost in credits (None: no credit value)."""
        price = self.price_at(model, when)
        if price is None:
            return None, None
        try:
            return price, self._rates[price.id]
        except KeyError:
            rate = self._rates[price.id] = rate_of(price, self.credit_rules.credits_per_usd)
            return price, rate

    @cached_property
    def _rates(self) -> dict[uuid.UUID, Rate | None]:
        return {}

    @cached_property
    def retry(self) -> RetryPolicy:
        """The ``gateway.retry`` setting, validated once per snapshot rather than per call."""
        return RetryPolicy.model_validate(self.settings.get("gateway.retry") or {})

    def authenticate(self, token: str, now: datetime) -> KeyEntry:
        entry = self.keys.get(hashlib.sha256(token.encode()).hexdigest())
        if entry is None or (entry.expires_at is not None and entry.expires_at <= now):
            raise Unauthenticated("invalid, expired or revoked API key")
        return entry

    def price_at(self, model: uuid.UUID, when: datetime) -> PriceEntry | None:
        rows = self.prices.get(model, ())
        index = bisect.bisect_right(rows, when, key=_effective_from)
        return rows[index - 1] if index else None

    def provider_by_name(self, name: str, owner: uuid.UUID | None) -> ProviderEntry | None:
        return self._by_name.get((name, owner))

    # Indexes built once per snapshot, so that no call scans every provider or model (a
    # registry may hold a bring-your-own-key provider for each of thousands of users).

    @cached_property
    def _by_name(self) -> dict[tuple[str, uuid.UUID | None], ProviderEntry]:
        return {(p.name, p.owner): p for p in self.providers.values()}

    @cached_property
    def active_provider(self) -> ProviderEntry | None:
        """The system-wide fallback provider (at most one is active)."""
        return next((p for p in self.providers.values() if p.is_active), None)

    @cached_property
    def default_provider_of(self) -> dict[uuid.UUID, ProviderEntry]:
        """Each user's own default provider."""
        found: dict[uuid.UUID, ProviderEntry] = {}
        for p in self.providers.values():
            if p.owner is not None and p.is_default:
                found.setdefault(p.owner, p)
        return found

    @cached_property
    def default_models(self) -> tuple[ModelEntry, ...]:
        return tuple(m for m in self.models.values() if m.is_default)

    @cached_property
    def models_of(self) -> dict[uuid.UUID, tuple[ModelEntry, ...]]:
        """Each provider's models, by model id."""
        found: dict[uuid.UUID, list[ModelEntry]] = {}
        for m in sorted(self.models.values(), key=lambda m: m.model_id):
            found.setdefault(m.provider_id, []).append(m)
        return {k: tuple(v) for k, v in found.items()}

    def target(self, provider: ProviderEntry, model_id: str) -> Target:
        """The upstream call's target, made once per provider and model."""
        key = (provider.id, model_id)
        target = self._targets.get(key)
        if target is None:
            target = self._targets[key] = provider.target(model_id)
        return target

    @cached_property
    def _targets(self) -> dict[tuple[uuid.UUID, str], Target]:
        return {}
