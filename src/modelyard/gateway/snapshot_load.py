"""Building a :class:`~modelyard.gateway.snapshot.Snapshot`: the whole registry read in one
transaction (keys, subscriptions and who holds credits, providers with their API keys opened,
models, prices, settings, preferences). A provider whose kind is not installed, or whose key
this server cannot open, is kept out of routing and listed on the snapshot (``uninstalled``,
``unreadable``) for readiness and ``modelyard doctor``."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from modelyard.adapters.reach import Network, parse_networks, without_credentials
from modelyard.billing.subscriptions import CURRENT
from modelyard.db.tables import (
    ApiKey,
    CreditGrant,
    Model,
    ModelPrice,
    Plan,
    Provider,
    RegistryState,
    Subscription,
    SystemSetting,
    User,
    UserPreference,
)
from modelyard.errors import ModelyardError
from modelyard.gateway.snapshot import (
    Billing,
    KeyEntry,
    ModelEntry,
    Preference,
    PriceEntry,
    ProviderEntry,
    Snapshot,
    Uninstalled,
    Unreadable,
)
from modelyard.kinds.base import kinds
from modelyard.registry.actors import Actor
from modelyard.registry.system_settings import KNOWN, MEMBER_CIDRS
from modelyard.registry.tx import Database

log = logging.getLogger("modelyard.gateway")


async def load(db: Database) -> Snapshot:
    """Read the whole registry in one transaction (after following the key file, which
    another process may have rotated or retired keys in: one ``stat``)."""
    if db.keyring is not None:
        db.keyring.reload()
    async with db.read(Actor.operator("gateway")) as tx:
        s = tx.session
        generation = int(await s.scalar(select(RegistryState.generation)) or 0)
        keys = await _keys(s, tx.now)
        stored = {row.key: row.value for row in await s.scalars(select(SystemSetting))}
        allowed = parse_networks(stored.get(MEMBER_CIDRS) or ())
        owned = await s.execute(
            select(Provider, User.role).outerjoin(User, User.id == Provider.owner_user_id)
        )
        providers, uninstalled, unreadable = _providers(db, owned, allowed)
        # models and prices as plain rows, not ORM objects: at 2,000 models that halves a
        # reload's CPU (each ORM object costs its identity-map state)
        models = {row.id: _model(row) for row in await s.execute(select(*_MODEL_COLUMNS))}
        prices: dict[uuid.UUID, list[PriceEntry]] = {}
        for row in await s.execute(
            select(ModelPrice.model_id, *_PRICE_COLUMNS).order_by(ModelPrice.effective_from)
        ):
            prices.setdefault(row.model_id, []).append(_price(row))
        preferences = {
            row.user_id: Preference(row.default_model_id, row.temperature, row.streaming)
            for row in await s.scalars(select(UserPreference))
        }
        billing = await _billing(s)
        credited = frozenset(await s.scalars(select(CreditGrant.user_id).distinct()))
    by_model_id: dict[str, list[ModelEntry]] = {}
    for model in sorted(models.values(), key=lambda m: (m.created_at, str(m.id))):
        by_model_id.setdefault(model.model_id, []).append(model)
    settings = {key: definition.default for key, definition in KNOWN.items()} | stored
    return Snapshot(
        generation,
        keys,
        providers,
        models,
        {k: tuple(v) for k, v in by_model_id.items()},
        {k: tuple(v) for k, v in prices.items()},
        settings,
        preferences,
        billing,
        uninstalled,
        unreadable,
        credited,
    )


async def _billing(session: Any) -> dict[uuid.UUID, Billing]:
    """Per user, the subscription that decides: the current one (active or suspended), else
    the latest that ended."""
    rows = await session.execute(
        select(Subscription, Plan)
        .join(Plan, Plan.id == Subscription.plan_id)
        .order_by(Subscription.created_at, Subscription.id)
    )
    out: dict[uuid.UUID, Billing] = {}
    for sub, plan in rows:
        seen = out.get(sub.user_id)
        if seen is not None and seen.status in CURRENT and sub.status not in CURRENT:
            continue
        out[sub.user_id] = Billing(
            sub.id,
            sub.status,
            plan.name,
            plan.rpm_limit,
            plan.tpm_limit,
            plan.max_parallel,
            None if plan.allowed_models is None else frozenset(plan.allowed_models),
            None if plan.allowed_capabilities is None else frozenset(plan.allowed_capabilities),
        )
    return out


async def _keys(session: Any, now: datetime) -> dict[str, KeyEntry]:
    rows = await session.execute(
        select(ApiKey, User)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.revoked_at.is_(None), User.deleted_at.is_(None), User.status == "active")
    )
    return {
        key.key_hash: KeyEntry(
            key.id,
            user.id,
            user.role,
            frozenset(key.scopes),
            key.expires_at,
            key.rpm_limit,
            key.tpm_limit,
            user.rpm_limit,
            user.tpm_limit,
            key.name,
            key.prefix,
        )
        for key, user in rows
        if key.expires_at is None or key.expires_at > now
    }


def _providers(
    db: Database, rows: Iterable[Any], allowed: tuple[Network, ...]
) -> tuple[
    dict[uuid.UUID, ProviderEntry], dict[uuid.UUID, Uninstalled], dict[uuid.UUID, Unreadable]
]:
    """The providers the installed kinds can serve; the others, named, are left out. Those
    whose key cannot be opened are kept (unusable) and named with the reason. ``rows`` are
    (provider, its owner's role): a member's provider reaches only public addresses and the
    ``allowed`` private networks."""
    installed = kinds()
    providers, uninstalled, unreadable = {}, {}, {}
    for row, role in rows:
        if row.kind in installed:
            member = row.owner_user_id is not None and role != "admin"
            api_key, problem = open_key(db, row)
            providers[row.id] = provider_entry(
                row, api_key, usable=problem is None, reach=allowed if member else None
            )
            if problem is not None:
                unreadable[row.id] = Unreadable(row.name, row.owner_user_id, problem)
        else:
            uninstalled[row.id] = Uninstalled(row.name, row.owner_user_id, row.kind)
            log.warning("provider %s is skipped: its kind %r is not installed", row.name, row.kind)
    return providers, uninstalled, unreadable


def open_key(db: Database, row: Provider) -> tuple[str | None, str | None]:
    """The provider's API key, or why it cannot be opened (re-reading a changed key file
    first when the key id is not known here: another process may have just rotated)."""
    if row.api_key_sealed is None:
        return None, None
    if db.keyring is None:
        problem = "no master key is configured"
    else:
        try:
            return db.keyring.open(row.api_key_sealed, context=f"provider:{row.id}"), None
        except ModelyardError as exc:
            problem = exc.message
    log.warning("provider %s is unusable: its API key cannot be opened: %s", row.name, problem)
    return None, problem


def provider_entry(
    row: Provider, api_key: str | None, *, usable: bool, reach: tuple[Network, ...] | None
) -> ProviderEntry:
    return ProviderEntry(
        id=row.id,
        name=row.name,
        owner=row.owner_user_id,
        kind=row.kind,
        enabled=row.enabled,
        is_default=row.is_default,
        is_active=row.is_active,
        base_url=_base_url(row),
        api_key=api_key,
        usable=usable,
        organization=row.organization,
        headers=dict(row.custom_headers),
        config=dict(row.config),
        timeout_s=row.timeout_ms / 1000,
        max_parallel=row.max_parallel,
        rpm_limit=row.rpm_limit,
        tpm_limit=row.tpm_limit,
        weight=row.weight,
        member_reach=reach,
    )


def _base_url(row: Provider) -> str:
    """The stored base URL without a user/password (refused since; never sent nor shown)."""
    url = without_credentials(row.base_url)
    if url != row.base_url:
        log.warning(
            "provider %s: the user/password in its base_url is ignored; put the key in api_key",
            row.name,
        )
    return url


_MODEL_COLUMNS = (
    Model.id,
    Model.provider_id,
    Model.model_id,
    Model.display_name,
    Model.context_window,
    Model.max_output_tokens,
    Model.capabilities,
    Model.status,
    Model.is_default,
    Model.created_at,
    Model.fallbacks,
)
_PRICE_COLUMNS = (
    ModelPrice.id,
    ModelPrice.effective_from,
    ModelPrice.input_per_mtok,
    ModelPrice.output_per_mtok,
    ModelPrice.cached_input_per_mtok,
    ModelPrice.credits_per_1k,
    ModelPrice.currency,
    ModelPrice.cache_write_per_mtok,
)


def _price(row: Any) -> PriceEntry:
    return PriceEntry(
        row.id,
        row.effective_from,
        row.input_per_mtok,
        row.output_per_mtok,
        row.cached_input_per_mtok,
        row.credits_per_1k,
        row.currency,
        row.cache_write_per_mtok,
    )


def _model(row: Any) -> ModelEntry:
    return ModelEntry(
        row.id,
        row.provider_id,
        row.model_id,
        row.display_name,
        row.context_window,
        row.max_output_tokens,
        frozenset(row.capabilities),
        row.status,
        row.is_default,
        row.created_at,
        tuple(row.fallbacks or ()),
    )
